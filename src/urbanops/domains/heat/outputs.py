"""Write a heat map: GeoTIFFs, XYZ tiles with a legend, stations, QC flags, a summary."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from urbanops.domains.heat import qc as qcmod
from urbanops.domains.heat.grid import write_geotiff
from urbanops.domains.heat.mapping import HeatMap
from urbanops.domains.heat.tiles import colour_range, write_legend, write_tiles


def write_outputs(m: HeatMap, out_dir: Path, *, tiles: bool = True) -> list[Path]:
    """``air_temp.tif`` (always), ``apparent_temp.tif`` (with humidity), ``uncertainty.tif``
    (kriging), ``tiles/air_temp/{z}/{x}/{y}.png`` with ``legend_air_temp.png``, ``stations.csv``
    (the readings mapped), ``qc.csv`` (every observation checked, with its flags) and
    ``summary.json``. Written to a temporary folder and moved into place together."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".heat-map-", dir=out_dir))
    try:
        write_geotiff(tmp / "air_temp.tif", m.grid, m.air_c, description="air temperature")
        layers = {"air_temp": m.air_c}
        if m.apparent_c is not None:
            write_geotiff(
                tmp / "apparent_temp.tif", m.grid, m.apparent_c,
                description="apparent temperature (KMA)",
            )  # fmt: skip
            layers["apparent_temp"] = m.apparent_c
        if m.sd_c is not None:
            write_geotiff(
                tmp / "uncertainty.tif", m.grid, m.sd_c,
                description="kriging standard deviation of air temperature",
            )  # fmt: skip
        summary = m.summary()
        summary["tiles"] = {}
        if tiles:
            for name, values in layers.items():
                lo, hi = colour_range(values)
                written_tiles = write_tiles(tmp / "tiles" / name, m.grid, values, vmin=lo, vmax=hi)
                write_legend(
                    tmp / f"legend_{name}.png", vmin=lo, vmax=hi,
                    label=name.replace("_", " ") + " (deg C)",
                )  # fmt: skip
                summary["tiles"][name] = {
                    "path": f"tiles/{name}/{{z}}/{{x}}/{{y}}.png",
                    **written_tiles,
                    "range_c": [lo, hi],
                    "legend": f"legend_{name}.png",
                }
        st = m.sites.stations.copy()
        st["site"] = m.sites.site_of
        st.to_csv(tmp / "stations.csv", index=False)
        q = m.qc.copy()
        q["flag_names"] = [
            "|".join(name for bit, name in qcmod.NAMES.items() if f & bit)
            for f in q["flags"].to_numpy()
        ]
        q["excluded"] = (q["flags"].to_numpy() & qcmod.EXCLUDING) != 0
        q.to_csv(tmp / "qc.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=_json))
        written = []
        for p in sorted(tmp.iterdir()):
            dest = out_dir / p.name
            if dest.is_dir():
                shutil.rmtree(dest)
            os.replace(p, dest)
            written.append(dest)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _json(o: object) -> object:
    if isinstance(o, np.integer | np.floating):
        return o.item()
    return str(o)
