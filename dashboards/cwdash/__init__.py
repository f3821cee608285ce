"""Shared building blocks of the Customer Warehouse dashboard.

- ``warehouse``: the cached read-only connection to the published warehouse file
- ``queries``: every SQL statement the pages run (parameterised, aggregated in DuckDB)
- ``filters``: the global sidebar filters and how they turn into SQL conditions
- ``i18n``: English and Chinese labels
- ``formatting``: money, percent, days and counts, in one place
- ``ui``: page furniture (headers, KPIs, charts, empty states, paged tables)
"""
