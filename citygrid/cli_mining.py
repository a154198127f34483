"""`citygrid rules suggest --from-history`: routing rules (and learned zones) proposed from imported history."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from citygrid.cli import Failure, settings, transaction
from citygrid.cli_dispatch import rules_app


@rules_app.command("suggest")
def rules_suggest(
    out: Annotated[Path, typer.Option(help="where to write the suggested rules (.csv or .yaml)")],
    from_history: Annotated[bool, typer.Option("--from-history", help="mine the imported historical cases")]
    = False,
    zones_out: Annotated[Optional[Path], typer.Option(help="where to write learned zones (.gpkg or .geojson); "
                                                           "default: next to --out")] = None,
    holdout: Annotated[float, typer.Option(help="share of the history held out to measure the rules")] = 0.2,
    seed: Annotated[int, typer.Option(help="seed of the random held-out split")] = 0,
    min_support: Annotated[int, typer.Option(help="training cases a category needs for rules of its own")] = 20,
    zone_layer: Annotated[str, typer.Option(help="zone layer name the rules use for learned zones")]
    = "learned_areas",
) -> None:
    """Propose routing rules from history: per category the department that handled its cases, by category
    alone, by an existing layer, or by learned zones; with support, confidence and held-out agreement."""
    from dispatch.routing.mining import check_paths, suggest, write_rules, write_zones

    if not from_history:
        raise Failure("say where to learn from: --from-history (the imported historical cases)")
    zones_out = zones_out or out.with_name(out.stem + "_zones.gpkg")
    check_paths(rules=out, zones=zones_out)
    with transaction(settings()) as conn:
        found = suggest(conn, holdout=holdout, seed=seed, min_support=min_support, zone_layer=zone_layer)
    write_rules(out, found)
    wrote_zones = write_zones(zones_out, found)
    _report(found)
    typer.echo(f"wrote {len(found.rows)} rule(s) to {out}")
    if wrote_zones:
        typer.echo(f"wrote {len(found.zones)} learned zone(s) to {zones_out}; import them before the rules:\n"
                   f"  citygrid zones import {zones_out} --layer {zone_layer} --code-field code --name-field name\n"
                   f"  citygrid rules import {out}")
    else:
        typer.echo(f"no category needs learned zones; {zones_out} not written")


def _report(found) -> None:
    """Per category: the choice, support, confidence, agreement per family; then the overall comparison."""
    typer.echo(f"{found.training} training case(s), {len(found.holdout_ids)} held out; left out: {found.unhandled} "
               f"imported case(s) never handled by a department, {found.retired} handled by departments that are gone")
    typer.echo(f"{'category':<28} {'choice':<18} {'cases':>6} {'conf.':>6} | held out {'n':>5} {'rules':>6} "
               f"{'cat.':>6} {'layer':>6} {'zones':>6}")
    for c in found.choices:
        h = c.holdout
        cells = " ".join(f"{h[k]:>6.1%}" if k in h else f"{'-':>6}" for k in ("rules", "category", "layer", "learned"))
        typer.echo(f"{(c.key + ' ' + c.title)[:28]:<28} {c.chosen.label[:18]:<18} {c.support:>6} "
                   f"{c.confidence:>6.1%} | {'':>8} {c.holdout_cases:>5} {cells}")
    if found.unruled:
        typer.echo(f"too little history for a rule: {', '.join(found.unruled)}")
    o = found.overall
    typer.echo(f"agreement with the held-out history: suggested rules {o['rules']:.1%}; every category by "
               f"category only {o['category']:.1%}, by its best existing layer {o['layer']:.1%}, by learned "
               f"zones {o['learned']:.1%}")
    best = max(("category", "layer", "learned"), key=lambda k: o[k])
    words = {"category": "category only", "layer": "an existing layer", "learned": "learned zones"}
    mix = "does better still" if o["rules"] > o[best] else "does as well" if o["rules"] == o[best] else "does worse"
    typer.echo(f"of the three used alone, {words[best]} routes history best; the suggested mix, one choice per "
               f"category, {mix}")
