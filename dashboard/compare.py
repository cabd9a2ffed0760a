"""The Compare page: runs trained side by side, and the kept runs' curves, table and maps."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

import flowcore as fc
from dashboard import state
from dashboard.panels import status_line
from dashboard.sidebar import arch_label, cached_dataset
from dashboard.state import KeptRun, SessionRun
from dashboard.views import cached, chart
from flowcore import flows, plots
from flowcore.experiment import compare_recipe

COMPARE_RESOLUTION = 90
# Side-by-side runs outlive a glance at another page; the session's end still stops them.
SIDE_BY_SIDE_IDLE_SECONDS = 300.0
FINISHED_STATES = ("finished", "stopped", "diverged")

def start_side_by_side(run: SessionRun) -> None:
    """Start one background run per chosen architecture (reads the form's widgets)."""
    form = st.session_state
    dataset = cached_dataset(form["compare-dataset"], ())
    run.stop_side_by_side()
    run.side_by_side.clear()
    for arch in form["compare-archs"]:
        flow, train = compare_recipe(arch, int(form["compare-steps"]), dataset.dim)
        job = fc.TrainingJob(fc.Trainer(flow, train, dataset),
                             idle_timeout=SIDE_BY_SIDE_IDLE_SECONDS)
        run.side_by_side.append(job)
        job.start()


def keep_side_by_side(run: SessionRun) -> None:
    """Stop the side-by-side runs and keep each (with the steps it made) for the table."""
    run.stop_side_by_side()
    for job in run.side_by_side:
        run.keep(job)
    run.side_by_side.clear()


def side_by_side_form(run: SessionRun) -> None:
    busy = any(job.state == "running" for job in run.side_by_side)
    st.subheader("Train runs side by side")
    cols = st.columns([1.2, 2, 1, 1.2])
    names = list(fc.datasets.names())
    cols[0].selectbox("dataset", names, key="compare-dataset",
                      index=names.index("checkerboard") if "checkerboard" in names else 0)
    archs = cols[1].multiselect("architectures", flows.names(), default=["realnvp", "nsf"],
                                key="compare-archs", format_func=arch_label)
    steps = cols[2].number_input("steps each", 20, 50_000, 2000, step=500, key="compare-steps")
    cols[3].button("Train side by side", key="compare-train", type="primary",
                   disabled=busy or not archs, on_click=start_side_by_side, args=(run,),
                   icon=":material/compare_arrows:",
                   help="Trains one run per architecture in the background; each is kept here "
                        "when it finishes.")
    flow, train = compare_recipe("realnvp", int(steps))
    st.caption(
        f"Every architecture gets the same recipe: {flow.layers} layers of width {flow.hidden}, "
        f"AdamW at {train.lr:g} with warm-up and a cosine schedule, batches of "
        f"{train.batch_size} fresh samples, gradient clip {train.clip_grad:g}, seed "
        f"{train.seed}. They share the machine's cores, so compare steps and time, and the "
        "parameter counts, in the table."
    )
    if run.side_by_side:
        _side_by_side_progress(run)


def _side_by_side_progress(run: SessionRun) -> None:
    jobs = list(run.side_by_side)
    running = any(job.state == "running" for job in jobs)

    @st.fragment(run_every=1.0 if running else None)
    def progress() -> None:
        curves = {}
        for i, job in enumerate(jobs, start=1):
            snap = job.snapshot()
            t = job.trainer
            label = f"{t.flow_config.arch} on {t.dataset.name}"
            st.progress(min(1.0, snap.step / max(1, snap.budget)),
                        text=f"{label}: {status_line(snap)}")
            curves[f"{i}. {label}"] = list(snap.history)
        entropy = jobs[0].trainer.entropy
        chart("compare-live", plots.compare_nll_figure(curves, entropy))
        if all(job.state in FINISHED_STATES for job in jobs):
            keep_side_by_side(run)
            st.rerun()  # show them in the table and the maps

    progress()
    st.button("Stop them and keep them as they are", key="compare-stop",
              on_click=keep_side_by_side, args=(run,))


def remove_run(run: SessionRun, kept: KeptRun) -> None:
    run.kept[:] = [r for r in run.kept if r is not kept]


def _common_entropy(runs: Sequence[KeptRun]) -> float | None:
    """The true entropy when every run is on one dataset that has it."""
    values = {r.entropy for r in runs}
    return values.pop() if len(values) == 1 else None


def run_table(runs: Sequence[KeptRun], labels: Sequence[str]) -> list[dict[str, object]]:
    rows = []
    for label, r in zip(labels, runs, strict=True):
        m = r.metrics
        last = r.history[-1] if r.history else {}
        rows.append({
            "run": label,
            "architecture": arch_label(r.flow_config.arch),
            "steps": m.get("step"),
            "time (s)": last.get("time"),
            "test NLL (nats)": m.get("test_nll"),
            "best test NLL": m.get("best_test_nll"),
            "KL (nats)": m.get("kl"),
            "KL s.e.": m.get("kl_se"),
            "parameters": r.parameters,
            "note": m.get("stopped_reason") or "",
        })
    return rows


def kept_runs_section(run: SessionRun) -> None:
    st.subheader("Kept runs")
    has_steps = run.steps > 0
    st.button("Keep the current run", key="keep-current", on_click=run.keep,
              disabled=not has_steps,
              help="Add the Train page's run, as it is now, to this comparison. Reset on the "
                   "Train page also keeps the run it replaces.")
    runs = list(run.kept)
    if not runs:
        st.info("No runs kept yet. Train two side by side above, or keep the Train page's run "
                f"(Reset keeps it too). Up to {state.MAX_KEPT_RUNS} runs are kept.")
        return
    labels = [f"{i}. {r.name}" for i, r in enumerate(runs, start=1)]
    chart("compare", plots.compare_nll_figure(
        {label: list(r.history) for label, r in zip(labels, runs, strict=True)},
        _common_entropy(runs)))
    number = st.column_config.NumberColumn
    st.dataframe(run_table(runs, labels), key="compare-table", hide_index=True,
                 column_config={"time (s)": number(format="%.1f"),
                                "test NLL (nats)": number(format="%.4f"),
                                "best test NLL": number(format="%.4f"),
                                "KL (nats)": number(format="%.4f"),
                                "KL s.e.": number(format="%.4f")})
    per_row = min(3, max(2, len(runs)))
    for start in range(0, len(runs), per_row):
        for col, i in zip(st.columns(per_row), range(start, min(start + per_row, len(runs))),
                          strict=False):
            r = runs[i]
            with col:
                fig = cached(f"compare-density-{i}", (id(r), r.flow), lambda r=r, i=i:
                             plots.density_figure(r.flow, bounds=plots.bounds_for(r.data),
                                                  resolution=COMPARE_RESOLUTION,
                                                  title=labels[i]))
                chart(f"compare-density-{i}", fig)
                st.button("Remove", key=f"remove-run-{i}", on_click=remove_run, args=(run, r),
                          icon=":material/delete:")


