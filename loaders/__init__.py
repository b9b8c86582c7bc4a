"""dlt loaders: land the shop, catalog and HubSpot sources in the warehouse's raw schemas."""

import warnings

# dagster-dbt requires `sqlglot[rs]`, whose current release is an empty shim that warns on every
# import of sqlglot (dlt imports it): a warning nobody running the loaders can act on.
warnings.filterwarnings("ignore", message=r"sqlglot\[rs\] is deprecated", category=UserWarning)
