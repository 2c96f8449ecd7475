import io
import json
import logging

from services.common.logs import configure_logging


def test_logs_are_json_objects_with_their_ids(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("INFO", json=True)
    try:
        logging.getLogger("porgate.test").info(
            "decided", extra={"event_id": "e-1", "decision_id": "d-1"}
        )
    finally:
        logging.getLogger().handlers.clear()
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert (
        line["message"] == "decided" and line["event_id"] == "e-1" and line["decision_id"] == "d-1"
    )
    assert line["level"] == "INFO"
