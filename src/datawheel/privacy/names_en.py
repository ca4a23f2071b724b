"""English PERSON: capitalized runs judged by name lists, honorifics and the slot they sit in.

A run is a sequence of capitalized words (any Latin script: "Ísis", "Åberg", "McAllister",
"O'Brien", "Smith-Jones"), with initials ("E.") and lower-case particles ("da", "van", "de")
inside. A run is a name when
- an honorific stands before it ("Ms.", "Dr.") — 0.85;
- it fills a *name slot*, whatever its words (one word only if it is a listed name): after a
  field label (`customer="…"`, `"owner":"…"`, `CN=`, `Reviewed-by:`, "Guests:", "received
  from"), as the next item of a list of names, after "my name is", "this is", "Customer",
  "Cardholder", "Reporter:", "Attn:", "From:", "Cc:", "spoke with", "Hi", "Dear", "Thanks" …;
  before " <e-mail>" (a display name), ", MD" / " DDS" (a credential), " joined the channel",
  " wrote:", " here"; as a chat speaker ("[10:32] Ann Lee:", "Ann Lee  10:32"); alone on the line
  after a sign-off ("Regards,", "Thanks,", "--") or after a dash ("— Ann Lee, Austin") — 0.8;
- or without a slot, its first word is a known first name and a second capitalized word follows
  (0.85 when that is a known last name, else 0.55, below the default threshold).
A generational suffix ("Jr.", "Sr.", "III") belongs to the name; a credential ("MD", "DDS",
"PhD") does not. ``"Last, First" <mail>`` is one name. The lists (about 6,000 first and 20,000
last names) come from the US Census 1990 name files and Faker's English providers (see
`names_build.py`).

Limits: names in lower case, a single unlisted name with no slot ("ask Zebulon"), and names
after words that are not cues are missed; capitalized phrases that start with a first name
("Grant Park") reach 0.55 and are dropped only by the threshold.
"""

from __future__ import annotations

import re

from datawheel.privacy.names_lists import load_list
from datawheel.privacy.spans import Span

__all__ = ["EnPersonRecognizer"]

# Latin-1, Latin Extended-A/B and Latin Extended Additional (Vietnamese "Trần", "Đặng").
_LATIN = [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]
_UP = "A-Z" + "".join(c for c in map(chr, _LATIN) if c.isupper())
_LO = "a-z" + "".join(c for c in map(chr, _LATIN) if c.islower())
# One capitalized word: "Ann", "McAllister", "MacDonald", "O'Brien", "Smith-Jones", "DeShawn",
# or an initial "E." / "E".
_WORD = (
    rf"(?:Ste?\.(?=[ \t][{_UP}])"  # "St. Clair", "Ste. Marie"
    rf"|[{_UP}](?:['’][{_UP}])?(?:[{_LO}]+(?:[{_UP}][{_LO}]+)*(?:-[{_UP}][{_LO}]+)*|\.)?)"
)
_PARTICLE = r"(?:da|de|del|della|der|den|di|do|dos|das|du|la|le|van|von|ten|ter|bin|ibn|al|el)"
_RUN = re.compile(
    rf"(?<![\w@./'’-]){_WORD}(?:[ \t](?:{_PARTICLE}[ \t]){{0,2}}{_WORD})*(?![\w@'’-])"
)
_WORD_RE = re.compile(_WORD)
_SUFFIX = re.compile(r",?[ \t](?:Jr\.?|Sr\.?|II|III|IV)(?![\w'’-])")
_HONORIFICS = frozenset(["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "rev"])
_CREDENTIAL = re.compile(
    r"(?:,[ \t]?|[ \t])"
    r"(?:M\.?D\.?|D\.?D\.?S\.?|DMD|D\.?O\.?|Ph\.?D\.?|RN|CPA|Esq\.?|MBA|FACC|JD|NP|PA-C)"
    r"(?![\w-])"
)
# Text right before a run that makes it a name, matched on the lower-cased text. A cue may be a
# field label with its separator and quotes (`customer="`, `"owner":"`, `ATTENDEE;CN=`,
# `Reviewed-by:`); "agent" is no cue in "User agent Mozilla/5.0".
_BEFORE = re.compile(
    r"(?:\bmy name is|\bname is"
    r"|\b(?:full_?|display_?|first_?|contact_?|customer_?)?name[\"']?[ \t]*[:=]"
    r"|\bthis is|\bi am|\bi'm|\bcustomer|\bcardholder|\bcard holder|\breporter:|\bassignee:"
    r"|\bowner:|(?<!-)(?<!user )\bagent:?|\battn:?"
    r"|\bfrom:|\bto:|\bcc:|\bbcc:|\bcn="
    r"|\bsent by|\bsigned|\bspoke (?:with|to)|\btalked to|\bask for|\bhi,?|\bhello,?|\bhey,?|\bdear"
    r"|\bthanks,?|\bthank you,?|\bmanager,|\bcontact:?|\bescalated (?:to|by)|\bforwarded to"
    r"|\bassigned to|\bloop in|\bcc'd|\bper|\bwith|\bby|\bcaller|\btechnician|\bpatient"
    r"|\bemployee|\bapplicant|\bbeneficiary|\bpayee|\bpayer|\baccount holder|\bowner|\bdriver"
    r"|\bcourier|\bauthor|\brequester|\brecipient|\bsender|\borganizer|\battendees?|\bguests?"
    r"|\bparticipants?|\binvitees?|\bholder|\breceived from|\bpayment from|\btransfer from"
    r"|\b(?:shipped|registered|issued|billed|addressed|delivered|sold) to|\b(?:paid|approved) by"
    r"|[—–]|^-|\n-)(?:[\"']?[ \t]*[:=][ \t]*[\"']?|[\"'])?[ \t]*$"
)
_AFTER = re.compile(
    r"\"?[ \t]*(?:<[^>\s]+@|\((?:ext|x)\b|joined\b|left the\b|wrote:|here\b"
    r"|has (?:joined|left)|\(she|\(he|\(they)"
)
_CHAT_SPEAKER = re.compile(
    r"(?:^|\n)[ \t]*(?:\[[^\]\n]{3,25}\][ \t]*)?$"
)  # "[10:32] " or line start
_CLOCK_AFTER = re.compile(r"[ \t]{1,3}(?:\d{1,2}:\d{2}|\d{4}-\d\d-\d\d)")
_SIGN_OFF = re.compile(
    r"(?:regards|thanks|thank you|cheers|best|sincerely|yours|warmly|respectfully|cordially"
    r"|--|—|sent from)[,.!]?[ \t]*\n(?:[ \t]*\n)?[ \t]*$"
)
# Capitalized words that are never part of a name (greetings, headers, common nouns, weekdays).
# fmt: off
_STOP_WORDS = """
    a an the i hi hello hey dear thanks thank please my our your his this that these order
    account support team customer customers service services ticket subject sent date re
    fw fwd to from cc bcc monday tuesday wednesday thursday friday saturday sunday january
    february march july september october november december street avenue road drive suite
    apt card bank phone email mobile office fax tel regards best sincerely cheers kind can
    could would will should is are was were yes no ok okay also and or but if when then so
    we you he she it they hope as at on in by for of with sir madam inc llc ltd co corp
    company group hr it admin billing sales manager director senior chief head lead
    partner business care family dental medical clinic hospital verified purchase great
    two one three stars highly recommend welcome still tried cardholder reporter assignee
    attn refund request original receipt attached amount note caller agent user name here
    there what why how who where new old ask see section terms build release version
    latency checked sale room sorry hope update updated via per api server error info warn
    debug get post http https reply message mailbox not do jr sr ii iii iv iphone android
    windows mac chrome firefox safari microsoft apple google amazon paypal teams globex
    acme street"""
_STOP = frozenset(_STOP_WORDS.split())
# fmt: on


class EnPersonRecognizer:
    """English names from lists, honorifics and name slots (see the module docstring)."""

    entity = "PERSON"
    name = "person_en"

    def __init__(self) -> None:
        self.first = load_list("names_en_first.txt")
        self.last = load_list("names_en_last.txt")

    def trigger(self, text: str) -> bool:
        return _UPPER.search(text) is not None

    def find(self, text: str, lower: str) -> list[Span]:
        out = self._last_first(text, lower)
        taken = [(x.start, x.end) for x in out]
        head = -1  # end of the last name found in a slot: a list of names may go on after it
        for m in _RUN.finditer(text):
            start = m.start()
            if any(a <= start < b for a, b in taken) or (
                start > 1 and text[start - 1] == " " and text[start - 2].isdigit()
            ):
                continue  # "42395 David Mall": a street name after a house number
            listed = head >= 0 and _LIST_GAP.fullmatch(text, head, start) is not None
            # cue and stop words ("Hi", "Customer", "Thanks") split a run and become context
            segment: list[tuple[int, int]] = []
            titled = False
            for w in [*_WORD_RE.finditer(text, start, m.end()), None]:
                key = _key(lower, w.span()) if w else ""
                initial = w is not None and w.end() - w.start() == 2 and text[w.end() - 1] == "."
                if w is not None and (initial or (key not in _STOP and key not in _HONORIFICS)):
                    segment.append(w.span())
                    continue
                for i in range(len(segment)):  # "Call John Smith": a capitalized verb first
                    span = self._judge(
                        text, lower, segment[i:], titled and i == 0, listed and i == 0
                    )
                    if span is not None:
                        out.append(span)
                        head = span.end if span.score >= 0.8 else -1
                        break
                listed = False
                segment, titled = [], key in _HONORIFICS
        return out

    def _last_first(self, text: str, lower: str) -> list[Span]:
        """ "Last, First" display names before " <mail>", and quoted in a name field
        (`contact="Hegde, Nitesh"`): one span each."""
        out = [
            Span(m.start(1), m.end(1), self.entity, 0.85, self.name)
            for m in _DISPLAY_LAST_FIRST.finditer(text)  # "O'Neill, Danielle" <dan@x.com>
        ]
        for m in _QUOTED_LAST_FIRST.finditer(text):
            q = m.start()
            if _BEFORE.search(lower, max(0, q - 24), q + 1) and not any(
                x.start == m.start(1) for x in out
            ):
                out.append(Span(m.start(1), m.end(1), self.entity, 0.8, self.name))
        return sorted(out, key=lambda x: x.start)

    def _judge(
        self,
        text: str,
        lower: str,
        words: list[tuple[int, int]],
        titled: bool,
        listed: bool = False,
    ) -> Span | None:
        while len(words) > 1 and _CREDENTIAL.match(text, words[-2][1]):
            words = words[:-1]  # "Ann Lee M.D.": the credential's "M." is no initial
        if len(words) > 5:
            return None
        s, e = words[0][0], words[-1][1]
        if text.startswith("/", e):
            return None  # "Mozilla/5.0", "Opera/9.42": a product token, not a name
        suffix = _SUFFIX.match(text, e)
        e = suffix.end() if suffix else e  # "Jr.", "III" belong to the name
        keys = [_key(lower, w) for w in words]
        if titled or _HONORIFIC_BEFORE.search(lower, max(0, s - 8), s):
            return Span(s, e, self.entity, 0.85, self.name)
        if (listed and len(words) >= 2) or self._in_slot(text, lower, s, e, len(words)):
            if len(words) == 1 and (keys[0] not in self.first and keys[0] not in self.last):
                return None  # "Customer: Right, …": one word in a slot must be a known name
            return Span(s, e, self.entity, 0.8, self.name)
        first, last = self.first, self.last
        rest = [k for k in keys[1:] if len(k) > 1]  # past initials: "William O. Sweeney"
        if rest and keys[0] in first:
            score = 0.85 if rest[-1] in last or rest[0] in last else 0.55
            return Span(s, e, self.entity, score, self.name)
        return None

    def _in_slot(self, text: str, lower: str, s: int, e: int, n: int) -> bool:
        if _BEFORE.search(lower, max(0, s - 24), s) or _AFTER.match(lower, e):
            return True
        if _CREDENTIAL.match(text, e):
            return True
        line_start = text.rfind("\n", 0, s) + 1
        line_end = text.find("\n", e)
        rest = text[e : len(text) if line_end < 0 else line_end]
        head = text[line_start:s]
        speaker = text.startswith(":", e) or _CLOCK_AFTER.match(text, e) is not None
        if n >= 2 and speaker and _CHAT_SPEAKER.search(head):
            return True  # "[10:32] Ann Lee: …", "Ann Lee  10:32"
        signed = not head.strip() and _SIGN_OFF.search(lower, max(0, line_start - 40), line_start)
        return bool(signed) and not rest.strip()  # the signature line after "Regards,"


def _key(lower: str, word: tuple[int, int]) -> str:
    return lower[word[0] : word[1]].rstrip(".")


_UPPER = re.compile(rf"[{_UP}]")
_HONORIFIC_BEFORE = re.compile(r"\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam|rev)\.?[ \t]+$")
# Between two names of one list ("Guests: Ann Lee, Bo Park; Cy Dunn and Di Roe").
_LIST_GAP = re.compile(r"[ \t]*(?:[,;&]|and|,[ \t]*and)[ \t]*")
_QUOTED_LAST_FIRST = re.compile(
    rf"[\"']({_WORD}(?:[ \t]{_WORD})?,[ \t]{_WORD}(?:[ \t]{_WORD})?)[\"']"
)
_DISPLAY_LAST_FIRST = re.compile(
    rf"\"({_WORD}(?:[ \t]{_WORD})?,[ \t]{_WORD}(?:[ \t]{_WORD})?)\"[ \t]*<"
)
