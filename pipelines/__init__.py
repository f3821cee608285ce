"""Customer Warehouse: the Dagster code location and the customer-warehouse CLI."""
