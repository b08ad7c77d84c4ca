"""Energy and area reference tables (Accelergy-compatible ERT/ART) built from primitive models and compound
component classes; see docs/energy-tables.md."""

from fusionsim.energy.ert import EnergyTables, build_tables, write_tables

__all__ = ["EnergyTables", "build_tables", "write_tables"]
