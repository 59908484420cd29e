"""The Hang Seng Industry Classification (HSICS): the 12 industries every share belongs to."""

HSICS_INDUSTRIES: tuple[str, ...] = (
    "Energy",
    "Materials",
    "Industrials",
    "Consumer Discretionary",
    "Consumer Staples",
    "Healthcare",
    "Telecommunications",
    "Utilities",
    "Financials",
    "Properties & Construction",
    "Information Technology",
    "Conglomerates",
)
