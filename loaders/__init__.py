"""dlt loaders: land the shop, catalog and HubSpot sources in the warehouse's raw schemas."""
