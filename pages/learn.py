"""Learn: the theory of normalizing flows, each formula next to the live model's numbers."""

import streamlit as st

from dashboard import formulas, views
from dashboard.sidebar import arch_label
from flowcore import analysis

st.title("Learn how a flow works")
model = views.current_model()
if model is None:
    st.info("Choose a dataset in the sidebar (or upload your own) to start.")
    st.stop()
views.model_caption(model, "learn")
flow = model.flow

st.header("1. Change of variables")
st.markdown(
    "A flow is an invertible map **f** from data **x** to a latent **z** that should look like a "
    "standard normal. If **f** is invertible and differentiable, the density of **x** follows "
    "from the density of **z** and how much **f** stretches space around **x**:"
)
st.latex(r"z = f(x), \qquad z \sim \mathcal{N}(0, I)")
st.latex(r"p_x(x) = p_z\big(f(x)\big)\,\Big\lvert\det \frac{\partial f}{\partial x}\Big\rvert"
         r"\quad\Longrightarrow\quad"
         r"\log p_x(x) = \log p_z\big(f(x)\big) + \log\lvert\det J_f(x)\rvert")
st.markdown("**With the live model**, at a point of your choice (the same point as on the Inside "
            "page):")
point = views.point_inputs("learn", model)
info = analysis.point_inspection(flow, point)
st.latex(formulas.change_of_variables_latex(info))

st.header("2. Coupling layers")
st.markdown(
    "**f** is a stack of simple layers, each easy to invert and with a cheap log-det. An affine "
    "coupling layer (RealNVP) uses a binary mask **b**: the coordinates where b = 1 pass through "
    "unchanged, and they set a scale **s** and a shift **t** for the others."
)
st.latex(r"\text{forward:}\quad z = x \odot \exp\big((1-b)\odot s(b\odot x)\big)"
         r" + (1-b)\odot t(b\odot x)")
st.latex(r"\text{inverse:}\quad x = \big(z - (1-b)\odot t(b\odot z)\big)"
         r"\odot \exp\big(-(1-b)\odot s(b\odot z)\big)")
st.caption("Note the minus sign in the inverse: b ⊙ z = b ⊙ x, so the inverse sees the same s "
           "and t, and undoes the scaling with exp(−s). s ends in tanh, which bounds the "
           "log-scales.")
layers = [m.layer for m in analysis.coupling_masks(flow)]
if not layers:
    st.info(f"The live model ({arch_label(flow.config.arch)}) has no "
            "coupling layers: each of its layers transforms every coordinate at once, in a way "
            "whose Jacobian is still triangular (an autoregressive layer transforms the i-th "
            "coordinate with a shift and scale computed from the ones before it).")
    choices = list(range(1, len(flow.layers) + 1))
else:
    choices = layers
if st.session_state.get("learn-layer") not in choices:
    st.session_state["learn-layer"] = choices[0]
chosen = st.selectbox("layer of the live model", choices, key="learn-layer",
                      format_func=lambda k: f"layer {k}: {flow.layers[k - 1].label}")
step = analysis.layer_at_point(flow, chosen, point)
if step.mask is not None:
    left, right = st.columns([1, 3])
    left.latex(formulas.mask_latex(step.mask))
    right.markdown(f"Layer {chosen}'s mask {formulas.mask_words(step.mask)}.")
if step.scale is not None:
    st.markdown(f"Its **s** and **t** at your point, as layer {chosen} sees it:")
    st.latex(formulas.affine_step_latex(step))
else:
    st.markdown(
        f"Layer {chosen} is a {step.label} layer: " + (
            "instead of a scale and a shift, the transformed coordinates go through a monotone "
            "rational-quadratic spline whose knots the network computes from the passed-through "
            "ones. Same idea, more flexible." if step.mask is not None else
            "its shift and scale come from an autoregressive network (MADE).")
    )
    st.latex(rf"u = {formulas.vector_latex(step.input)} \;\longmapsto\; "
             rf"{formulas.vector_latex(step.output)}, \qquad "
             rf"\log\lvert\det J\rvert = {step.log_det:.3f}")

st.header("3. Masks alternate")
st.markdown(
    "One coupling layer leaves the passed-through coordinates alone, so the next one swaps the "
    "mask: within two layers every coordinate has been transformed, each as a function of the "
    "others. The live model's layers:"
)
st.dataframe(formulas.layer_rows(flow), key="learn-masks", hide_index=True)

st.header("4. The log-det")
st.markdown(
    "The Jacobian of a coupling layer is triangular: the passed-through coordinates give ones on "
    "the diagonal, the transformed ones give exp(s). So its log-det is just the sum of the "
    "s values, and the log-dets of the layers add up. The data is standardised first, a fixed "
    "affine layer that counts too:"
)
st.latex(r"\log\lvert\det J_f(x)\rvert = \underbrace{-\textstyle\sum_i \log\sigma_i}_"
         r"{\text{standardise}} + \sum_{k=1}^{K} \log\lvert\det J_{f_k}(x_{k-1})\rvert,"
         r"\qquad \log\lvert\det J_{\text{coupling}}\rvert = \textstyle\sum_i (1-b_i)\,s_i")
st.markdown("At your point, step by step:")
st.latex(r"\begin{aligned}\log\lvert\det J_f(x)\rvert &= "
         + formulas.log_det_sum_latex(info.layer_log_dets, info.log_det)
         + r"\end{aligned}")

st.header("5. Training")
st.markdown(
    "Training maximises the likelihood of the data, that is, it minimises the mean negative "
    "log-likelihood in nats. Its expectation is the cross-entropy, which is the data's own "
    "entropy plus the KL divergence still to be won:"
)
st.latex(r"\mathrm{NLL} = -\frac{1}{N}\sum_{n=1}^{N} \log p_x(x_n), \qquad "
         r"\mathbb{E}_{x\sim p^*}\big[-\log p_x(x)\big] = H(p^*) + \mathrm{KL}(p^*\,\Vert\,p_x)")
metrics = model.snap.metrics
test_nll, kl, entropy = metrics.get("test_nll"), metrics.get("kl"), model.dataset.entropy()
if test_nll is None:
    st.caption("The live numbers appear here once the run has been evaluated on held-out data.")
elif entropy is None:
    st.latex(rf"\mathrm{{NLL}}_\text{{test}} = {test_nll:.4f}\ \text{{nats}}"
             r"\quad(\text{the true entropy of this data is unknown})")
else:
    # On the test points the sum is exact: their mean -log p*(x) is a sample of H(p*).
    st.latex(rf"\underbrace{{{test_nll:.4f}}}_{{\text{{test NLL}}}} = "
             rf"\underbrace{{{test_nll - kl:.4f}}}_{{-\overline{{\log p^*(x)}}}} + "
             rf"\underbrace{{{kl:.4f}}}_{{\mathrm{{KL}}}}\ \text{{nats, at step "
             rf"{metrics.get('step', 0):,}}}")
    st.caption(f"The middle term is the test points' mean −log p*(x): an estimate of the true "
               f"entropy H(p*) = {entropy:.4f} nats. The KL is their mean log p*(x) − log q(x), "
               f"± {metrics.get('kl_se') or 0:.4f} (one standard error).")
