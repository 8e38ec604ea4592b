"""The forecast of what planned sessions will take from the shelf: the clinic's planned demand
fed to inventory's forecast. The daily alert scan asks `shortfalls` for its `shortfall`
alerts."""

from datetime import date

from clinic.sessions import planned_demand
from inventory import forecast as stock_forecast
from inventory.forecast import ProductForecast


def forecast(weeks: int, as_of: date) -> list[ProductForecast]:
    first, last = stock_forecast.forecast_window(weeks, as_of)
    return stock_forecast.forecast(planned_demand(first, last), weeks, as_of=as_of)


def shortfalls(as_of: date, weeks: int) -> list[tuple[int | None, date]]:
    """(product_id, first short week) of every serum planned sessions will run short of;
    product_id is None for a serum no product stocks at all."""
    first, last = stock_forecast.forecast_window(weeks, as_of)
    return stock_forecast.shortfalls(planned_demand(first, last), weeks, as_of=as_of)
