"""What every input shares, whatever its venue: its id, receive time, account and raw text."""

from typing import Any, NamedTuple


class Envelope(NamedTuple):
    input_id: str
    at: int
    venue: str
    account: str
    raw: str

    def header(self) -> dict[str, Any]:
        """The keyword arguments every InputEvent takes."""
        # Spelled out: _asdict() zips the fields for every input, at twice the cost.
        return {
            "input_id": self.input_id,
            "at": self.at,
            "venue": self.venue,
            "account": self.account,
            "raw": self.raw,
        }
