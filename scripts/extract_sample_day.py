"""Write src/edgesplit/data/irradiance/greensboro_tmy3_0621.csv from the TMY3 file pvlib ships.

    python scripts/extract_sample_day.py

The values are pvlib's `723170TYA.CSV` (NREL TMY3, Greensboro Piedmont Triad Intl., NC), global
horizontal irradiance for June 21, hourly, as `pvlib.iotools.read_tmy3` returns them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pvlib

SOURCE = os.path.join(os.path.dirname(pvlib.__file__), "data", "723170TYA.CSV")
TARGET = (
    Path(__file__).resolve().parent.parent
    / "src/edgesplit/data/irradiance/greensboro_tmy3_0621.csv"
)


def main() -> None:
    data, meta = pvlib.iotools.read_tmy3(SOURCE, map_variables=True)
    day = data[(data.index.month == 6) & (data.index.day == 21)]
    lines = [
        "# Global horizontal irradiance, June 21, hourly (W/m^2), from the NREL TMY3 file",
        f"# 723170TYA.CSV shipped with pvlib {pvlib.__version__} ({meta['Name'].strip(chr(34))}, "
        f"{meta['State']}; lat {meta['latitude']}, lon {meta['longitude']}).",
        "# TMY3 months are measured/modelled typical months; times are local standard time "
        "(UTC-5), each value the hour ending at its time stamp.",
        "# Written by scripts/extract_sample_day.py.",
        "time,ghi_w_m2",
    ]
    lines += [f"{t.isoformat()},{float(v):g}" for t, v in day["ghi"].items()]
    TARGET.write_text("\n".join(lines) + "\n")
    print(f"wrote {TARGET} ({len(day)} hours)")


if __name__ == "__main__":
    main()
