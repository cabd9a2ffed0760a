// The live Train panels' charts (dashboard/live_chart.py): one Plotly chart per panel, kept for
// the life of the panel and updated in place with Plotly.react whenever the server sends a new
// figure. Streamlit calls this function again with the same parentElement for every new figure.

// plotly.js is the plotly package's own copy, served by Streamlit's component asset route beside
// this file; the browser fetches it once per page.
const PLOTLY_URL = new URL("../flow_playground.plotly/plotly.min.js", import.meta.url).href;

function loadPlotly() {
  if (!window.flowPlaygroundPlotly) {
    window.flowPlaygroundPlotly = window.Plotly
      ? Promise.resolve(window.Plotly)
      : new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = PLOTLY_URL;
        script.onload = () => resolve(window.Plotly);
        script.onerror = () => {
          window.flowPlaygroundPlotly = null;  // a later figure tries again
          reject(new Error(`plotly.js did not load from ${PLOTLY_URL}`));
        };
        document.head.appendChild(script);
      });
  }
  return window.flowPlaygroundPlotly;
}

// Streamlit's chart look, as st.plotly_chart's theme draws the same figures (measured in
// Chromium on Streamlit 1.67): the app's font, heading and background colours from the theme's
// CSS properties, and Streamlit's own chart greys for axis text, grid lines and the legend.
const GREYS = {
  light: {muted: "#808495", grid: "#e6eaf1", legend: "#262730"},
  dark: {muted: "#e6eaf1", grid: "#31333F", legend: "#fafafa"},
};

function rgb(colour) {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(colour);
  return hex ? hex.slice(1).map((h) => parseInt(h, 16)) : [128, 128, 128];
}

function streamlitLook(element, layout) {
  const css = getComputedStyle(element);
  const read = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const font = read("--st-font", "sans-serif");
  const background = read("--st-background-color", "#ffffff");
  const heading = read("--st-heading-color", "#262730");
  const [r, g, b] = rgb(background);
  const greys = GREYS[0.299 * r + 0.587 * g + 0.114 * b < 128 ? "dark" : "light"];
  const axis = (standoff) => ({
    gridcolor: greys.grid, tickcolor: greys.grid, zerolinecolor: greys.grid, automargin: true,
    tickfont: {color: greys.muted, size: 12},
    title: {font: {color: greys.muted, size: 14}, standoff},
  });
  const own = (layout.template && layout.template.layout) || {};
  const look = {
    font: {family: font, color: greys.muted, size: 12},
    paper_bgcolor: background, plot_bgcolor: background,
    title: {font: {family: font, size: 16, color: heading}, pad: {l: 4}, xanchor: "left", x: 0},
    legend: {font: {size: 12, color: greys.legend}, title: {font: {size: 12, color: greys.muted}}},
    margin: {pad: 8, l: 0, r: 0},
    hoverlabel: {bgcolor: background, bordercolor: `rgba(${rgb(heading).join(", ")}, 0.2)`,
                 font: {family: font, color: greys.muted, size: 12}},
    xaxis: {...own.xaxis, ...axis(20), showgrid: false},
    yaxis: {...own.yaxis, ...axis(24)},
  };
  const title = layout.title && layout.title.text
    ? {...layout.title, text: `<b>${layout.title.text}</b>`} : layout.title;
  return {...layout, title, template: {...layout.template, layout: {...own, ...look}}};
}

const DEFAULT_HEIGHT = 450;

// The live scatter panels come as WebGL traces (flowcore/plots/style.py says why). A browser
// without WebGL (switched off by policy, or too old a GPU) gets the same points drawn as SVG,
// where Plotly would put "WebGL is not supported" in the panel instead. Asked once per page; the
// probe's context is given back at once (a page keeps at most 16).
const HAS_WEBGL = (() => {
  try {
    const gl = document.createElement("canvas").getContext("webgl");
    if (gl) gl.getExtension("WEBGL_lose_context")?.loseContext();
    return gl !== null;
  } catch (error) {
    return false;
  }
})();

function drawable(traces) {
  return HAS_WEBGL ? traces
    : traces.map((trace) => (trace.type === "scattergl" ? {...trace, type: "scatter"} : trace));
}

export default function liveChart({data, parentElement}) {
  let chart = parentElement.querySelector(":scope > .live-chart");
  if (!chart) {
    chart = document.createElement("div");
    chart.className = "live-chart";
    parentElement.appendChild(chart);
  }
  const figure = JSON.parse(data.figure);
  chart.newest = figure;
  // A fixed height (the figure's, else Plotly's default, as st.plotly_chart drew it): a
  // responsive Plotly chart fills its div, and a div sized by its content then collapsed to 0.
  chart.style.height = `${(figure.layout && figure.layout.height) || DEFAULT_HEIGHT}px`;
  loadPlotly().then((Plotly) => {
    if (chart.newest !== figure) return;  // a newer figure arrived while plotly.js loaded
    return Plotly.react(chart, drawable(figure.data || []),
                        streamlitLook(parentElement, figure.layout || {}),
                        {...data.config, displayModeBar: "hover", responsive: true,
                         modeBarButtonsToRemove: ["lasso2d", "select2d", "sendChartToCloud"]});
  }).catch((error) => {
    chart.textContent = `The chart could not be drawn: ${error.message}. Reload the page.`;
  });
  // Streamlit calls this when the panel goes away, and also when a newer figure arrived before
  // this call finished: free the chart only once it has left the page.
  return () => setTimeout(() => {
    if (!chart.isConnected && window.Plotly) window.Plotly.purge(chart);
  }, 0);
}
