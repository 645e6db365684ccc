"""Could not reproduce, and why: per claim, what differs between the paper's setting and ours, derived from the
claim, the dataset inventory, the runs' records and recipes, and the models' input kinds."""

from __future__ import annotations

from ...claims import Claim
from ...profiles import resolve_recipe
from ..collect import Run
from ..context import Context
from ..markdown import code
from ..provenance import Source, Value, computed, from_file
from .headline import why_not_run

PAPER_PROFILE = "paper"
SEQUENCE_MODALITY = "apex_flow"  # the composite's two-frame (apex face, flow map) sequences, fer_lib.data.megc2019


def reproduction(ctx: Context) -> str:
    parts = ["## Could not reproduce, and why\n\n"]
    for claim in ctx.study.claims.values():
        reasons = _reasons(ctx, claim)
        parts.append(f"**{code(claim.key)}**\n\n" + "".join(f"- {r}\n" for r in reasons) + "\n")
    return "".join(parts)


def _reasons(ctx: Context, claim: Claim) -> list[str]:
    if claim.check_file:
        return [f"not a training run: the published weights are evaluated on our loader ({code(claim.check_file)}); the headline row gives the gap"]
    runs = [run for run in ctx.study.runs if run.model == claim.model]
    if not runs:
        return [f"no complete run of {code(claim.model)}"]
    reasons = []
    datasets = sorted({run.dataset for run in runs})
    if claim.dataset not in datasets:
        shown = ", ".join(code(d) for d in datasets)
        reasons.append(f"no run on the claim's {code(claim.dataset)}: {why_not_run(ctx, claim.dataset)}; shown instead on {shown}")
    if claim.note:
        reasons.append(f"our reading of the claim: {claim.note}")
    if claim.pretrained != "no" and not any(record.get("pretrained") for run in runs for record in run.state.records):
        stated = "does not say whether its model was pretrained" if claim.pretrained == "unstated" else f"says pretrained: {code(claim.pretrained)}"
        reasons.append(f"the paper {stated}; no pretrained weights are reachable here, so every run trains from scratch")
    if claim.protocol == "unstated":
        reasons.append("the paper does not say how its epoch was chosen: both protocols are shown")
    for group in ctx.group(claim.model):
        if group.profile != PAPER_PROFILE:
            reasons.append(_profile_reason(ctx, group.runs[0]))
    modalities = {run.recipe.get("modality") for run in runs}
    if ctx.input_kind(claim.model) == "clip" and SEQUENCE_MODALITY in modalities:
        reasons.append(
            "the sequence model sees two-frame sequences per sample (the apex face, then its flow map): the MEGC2019 "
            "composite ships no frame sequences, so the paper's video clips could not be formed"
        )
    unsettled = sorted({run.dataset for run in runs if isinstance(c := ctx.convergence[run.name], dict) and not c["converged"]})
    if unsettled:
        reasons.append(f"training had not converged when its schedule ended on {', '.join(code(d) for d in unsettled)} (see Convergence)")
    return reasons


def _profile_reason(ctx: Context, run: Run) -> str:
    devices = ", ".join(code(d) for d in sorted({str(r.get("device")) for r in run.state.records}))
    epochs = ctx.metric(run, "honest", "epochs", scale=1, decimals=None)
    # A fine-tuned run is set against the paper profile's fine-tuning schedule, not its from-scratch one.
    overrides = {"init_from": run.init_from} if run.init_from else None
    paper = resolve_recipe(PAPER_PROFILE, run.model, run.dataset, overrides)
    ours = run.recipe.get("img_size")
    paper_epochs = ctx.prov.number(Value(paper["epochs"], _paper_source(run, overrides, "epochs")), decimals=None)
    if ours is not None and paper.get("img_size") is not None:
        ours_px = ctx.prov.number(Value(ours, from_file(f"{run.folder}/config.json", "recipe", "img_size")), decimals=None)
        paper_px = ctx.prov.number(Value(paper["img_size"], _paper_source(run, overrides, "img_size")), decimals=None)
        epochs, paper_epochs = f"{epochs} epochs at {ours_px} px", f"{paper_epochs} epochs at {paper_px} px"
    else:
        epochs, paper_epochs = f"{epochs} epochs", f"{paper_epochs} epochs"
    start = f"fine-tuned from our {code(run.init_from)} run" if run.init_from else "from scratch"
    return (
        f"on {code(run.dataset)}, {start}: the {code(run.profile)} profile, {epochs} on {devices}; the "
        f"{code(PAPER_PROFILE)} profile's recipe ({paper_epochs}, meant for a GPU) was not run"
    )


def _paper_source(run: Run, overrides: dict[str, str] | None, key: str) -> Source:
    return computed("recipe", profile=PAPER_PROFILE, model=run.model, dataset=run.dataset, overrides=overrides, key=key)
