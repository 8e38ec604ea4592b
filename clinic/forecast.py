"""The forecast of what planned sessions will take from the shelf: the clinic's planned demand
fed to inventory's forecast. The daily alert scan asks `shortfalls` for its `shortfall`
alerts."""

from datetime import date

from clinic.sessions import planned_demand
from inventory import forecast as stock_forecast
from inventory.forecast import ProductForecast


def forecast(
    weeks: int, as_of: date, *, site_ids: list[int] | None = None
) -> list[ProductForecast]:
    """The sites' planned sessions against the sites' stock (None: every site)."""
    first, last = stock_forecast.forecast_window(weeks, as_of)
    demand = planned_demand(first, last, site_ids=site_ids)
    return stock_forecast.forecast(demand, weeks, as_of=as_of, site_ids=site_ids)


def shortfalls(as_of: date, weeks: int) -> list[tuple[int | None, date]]:
    """(product_id, first short week) of every serum planned sessions will run short of;
    product_id is None for a serum no product stocks at all."""
    first, last = stock_forecast.forecast_window(weeks, as_of)
    return stock_forecast.shortfalls(planned_demand(first, last), weeks, as_of=as_of)
