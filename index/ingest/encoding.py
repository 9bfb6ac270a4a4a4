"""Decode corpus text files: UTF-8, a byte-order mark, else the encoding charset-normalizer detects.

Chinese corpora often come as GBK/GB18030 or Big5, and Windows tools write UTF-16 with a
BOM. UTF-8 is tried first (it is what almost every file is, and random bytes rarely pass
as UTF-8); a BOM is always believed; anything else goes to the detector, and among its
candidates the Chinese encodings are preferred (a short GBK line also passes as Korean
CP949 or as Big5), the one whose text uses the more common characters winning. Bytes no
encoding fits, or that decode to control characters, are not text: the file is skipped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from index.errors import CorpusError

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8 with BOM"),
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32"),  # before UTF-16 LE, whose BOM it starts with
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"),
    (b"\xff\xfe", "utf-16", "UTF-16"),
    (b"\xfe\xff", "utf-16", "UTF-16"),
)
CHINESE = ("gb18030", "gbk", "gb2312", "hz", "big5", "big5hkscs", "cp950", "cp936")
_SAMPLE = 4000  # characters looked at to score a candidate decoding
_CONTROL_SHARE = 0.01  # more control characters than this, and the bytes are not text


@dataclass(frozen=True)
class Decoded:
    """A file's text, its encoding, and how that was found ('' for plain UTF-8, else
    'byte-order mark' or 'detected': worth reporting)."""

    text: str
    encoding: str
    how: str = ""

    def note(self) -> str | None:
        """How the file was read, for the ingest report (None for plain UTF-8)."""
        return f"read as {self.encoding} ({self.how})" if self.how else None


def decode_text(data: bytes) -> Decoded:
    """Decode the bytes of a text file.

    Raises:
        CorpusError: the bytes are binary or fit no known encoding.
    """
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise CorpusError(
                    f"starts with a {name} byte-order mark but is not {name} ({exc.reason})"
                ) from exc
            return _checked(Decoded(text, name, "" if codec == "utf-8-sig" else "byte-order mark"))
    try:
        return _checked(Decoded(data.decode("utf-8"), "UTF-8"))
    except UnicodeDecodeError as exc:
        first_error = exc
    guess = detect(data)
    if guess is None:
        raise CorpusError(
            f"not text: not UTF-8 (byte {data[first_error.start]:#04x} at offset {first_error.start}) "
            "and no other encoding fits (binary, or damaged text)"
        )
    return _checked(guess)


def detect(data: bytes) -> Decoded | None:
    """The encoding charset-normalizer finds for `data`, Chinese ones first (None: no fit)."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    chinese = [m for m in matches if m.encoding in CHINESE]
    if chinese:
        best = max(chinese, key=lambda m: common_share(str(m)[:_SAMPLE]))
    else:
        best = matches[0]
    return Decoded(str(best), best.encoding.replace("_", "-").upper(), "detected")


def common_share(text: str) -> float:
    """The share of a text's CJK characters that are common ones (GB2312 level 1 or Big5 level 1).

    A wrong guess between GBK and Big5 still decodes, but to rare characters and kana.
    """
    cjk = [c for c in text if ord(c) >= 0x2E80]
    if not cjk:
        return 0.0
    return sum(_common(c) for c in cjk) / len(cjk)


def _common(char: str) -> bool:
    try:
        gb = char.encode("gb2312")
        if len(gb) == 2 and 0xB0 <= gb[0] <= 0xD7:  # GB2312 level 1: the 3,755 most used hanzi
            return True
    except UnicodeEncodeError:
        pass
    try:
        big5 = char.encode("big5")
        return len(big5) == 2 and 0xA440 <= int.from_bytes(big5, "big") <= 0xC67E  # Big5's common hanzi
    except UnicodeEncodeError:
        return False


def _checked(decoded: Decoded) -> Decoded:
    """Refuse a decoding full of control characters: the bytes were not text."""
    sample = decoded.text[:_SAMPLE]
    controls = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v")
    if sample and controls / len(sample) > _CONTROL_SHARE:
        raise CorpusError(
            f"not text: {controls} control characters in its first {len(sample)} as {decoded.encoding} (binary?)"
        )
    return decoded
