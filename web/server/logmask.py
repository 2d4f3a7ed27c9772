"""Phone and ID numbers never reach a log line in full (C12).

Kefu's own pages send a searched phone number in a POST body (web.views.audit), but a URL typed
by hand, a referrer or an error message may still carry one; this filter masks any
mobile or ID number in the records of the servers' loggers, whichever server runs Kefu.
"""

from __future__ import annotations

import logging
import re

from engine.records.disclosure import mask

#: Mainland mobile numbers (11 digits from 13x to 19x) and ID numbers (17 digits and a check
#: character), not inside a longer run of digits.
NUMBER = re.compile(r"(?<!\d)(?:1[3-9]\d{9}|\d{17}[\dXx])(?!\d)")
LOGGERS = ("werkzeug", "waitress", "gunicorn.access", "wsgi", "kefu", "kefu.access")


class MaskNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = NUMBER.sub(lambda m: mask(m.group(0)), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def init_app() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskNumbers) for f in logger.filters):
            logger.addFilter(MaskNumbers())
