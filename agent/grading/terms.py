"""Pairs of opposite terms: the words a confidently wrong answer swaps.

Why a list: static word vectors put "online" next to "offline" and "open" next to "closed", so soft
matching alone credits an answer that says the opposite. A short, generic list of opposites lets
the grader notice when the answer uses the other term of a pair, and when a definition that the
rubric binds to one term is bound to the other.
"""

from __future__ import annotations

from agent.grading.text import stem

_PAIRS = """open closed | positive negative | same different | on off | increase decrease
| increases decreases | more less | higher lower | larger smaller | bigger smaller | series parallel
| online offline | precision recall | synchronous asynchronous | sync async | read write | reads writes
| push pull | before after | input output | true false | success failure | stateless stateful
| strong weak | lossy lossless | static dynamic | encrypt decrypt | client server | producer consumer
| conductor insulator | attract repel | expand contract | absorb reflect | left right | upper lower
| horizontal vertical | optimistic pessimistic | eager lazy | mutable immutable | inner outer
| ascending descending | first last | minimum maximum | min max | overfitting underfitting | bias variance
| authentication authorization | authentication authorisation | encoder decoder | training inference
| batch stream | horizontal vertical | leader follower | primary replica | fast slow | faster slower
| cheap expensive | cheaper dearer | hot cold | warm cold | import export | upstream downstream
| inbound outbound | ingress egress | allow deny | whitelist blacklist | allowlist denylist
| valid invalid | correct incorrect | connected separated | complete incomplete | full empty
| gain lose | heavier lighter | heat cool | warmer cooler | rise fall | sink float | solid liquid
| north south | east west | top bottom | day night | living nonliving | prey predator"""

OPPOSITE: dict[str, str] = {}
for _pair in _PAIRS.replace("\n", " ").split("|"):
    _a, _b = (stem(w) for w in _pair.split())
    OPPOSITE.setdefault(_a, _b)
    OPPOSITE.setdefault(_b, _a)
