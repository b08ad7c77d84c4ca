"""Optional backend: price primitives with the `hwcomponents` package (Accelergy's successor) when installed.

Selected with `fusionsim ert --energy-backend hwcomponents`. Compound classes are still expanded by
`fusionsim.energy.compound`; only primitive queries go to hwcomponents (`get_energy`, `get_area`, which work in
joules and square metres with `tech_node` in metres). Untested here: hwcomponents needs a newer Python than
this project's minimum, so the tests only check the error when it is missing.
"""

from __future__ import annotations

from typing import Any

from fusionsim.energy.primitives import NOWHERE, Where, technology_nm
from fusionsim.errors import InputError


class HwComponentsEstimator:
    """Primitive energies and areas from hwcomponents' installed models."""

    name = "hwcomponents"

    def __init__(self) -> None:
        try:
            import hwcomponents  # noqa: F401
        except ImportError:
            raise InputError(
                "the hwcomponents package is not installed",
                key="--energy-backend",
                fix="pip install hwcomponents hwcomponents-library hwcomponents-cacti, or use "
                "--energy-backend native",
            ) from None
        import hwcomponents as hwc

        self._hwc = hwc

    def _attrs(self, attributes: dict[str, Any], where: Where) -> dict[str, Any]:
        out = dict(attributes)
        if "technology" in out:
            out["tech_node"] = technology_nm(out, where) * 1e-9
        for a, b in (("datawidth", "width"), ("memory_depth", "depth"), ("memory_width", "width")):
            if a in out and b not in out:
                out[b] = out[a]
        return out

    def energy_pJ(
        self,
        cls: str,
        attributes: dict[str, Any],
        action: str,
        args: dict | None = None,
        where: Where = NOWHERE,
    ) -> float:
        try:
            e = self._hwc.get_energy(cls, self._attrs(attributes, where), action, dict(args or {}))
        except Exception as exc:  # hwcomponents raises plain exceptions with long logs
            raise where.error(
                f"hwcomponents cannot price {cls}.{action}: {str(exc).splitlines()[0]}"
            ) from None
        return float(e) * 1e12

    def area_um2(self, cls: str, attributes: dict[str, Any], where: Where = NOWHERE) -> float:
        try:
            a = self._hwc.get_area(cls, self._attrs(attributes, where))
        except Exception as exc:
            raise where.error(
                f"hwcomponents cannot give the area of {cls}: {str(exc).splitlines()[0]}"
            ) from None
        return float(a) * 1e12

    def knows(self, cls: str) -> bool:
        return True
