"""Any exchange ccxt supports, through ccxt's unified structures (venue ``ccxt:<exchange-id>``)."""
