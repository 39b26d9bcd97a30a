"""People's names as amends compares them: requesters, approvers, role members, delegates.

    amends.names.normalise(" Lena\\u200b")   # 'lena'
    amends.names.same_person("Straße", "STRASSE")  # True

The key is Unicode NFKC with case folding, invisible (default-ignorable)
characters removed, surrounding whitespace trimmed and inner runs of it
collapsed to one space. A name that is not valid UTF-8, holds a control
character, or is blank raises amends.InvalidName. The rule lives in the
compiled core (amends/names.hpp); this module only names it.
"""

from __future__ import annotations

from amends._core import normalise_name as normalise
from amends._core import same_person

__all__ = ["normalise", "same_person"]
