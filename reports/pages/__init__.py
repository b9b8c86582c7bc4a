"""The seven pages and what each shows, one module per page over a shared layout
(`reports/html.py`) and `common.py`. Business figures are metrics of the semantic layer
(Source.metrics); pipeline and quality figures are one query each on an audit or data-quality
table (Source.sql). Python only lays them out: it never recomputes a figure."""

from . import campaigns, customers, data_quality, overview, pipeline, products, revenue

PAGES = [
    overview.page,
    revenue.page,
    customers.page,
    campaigns.page,
    products.page,
    data_quality.page,
    pipeline.page,
]
