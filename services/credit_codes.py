"""统一社会信用代码 (unified social credit code, GB 32100-2015): 18 characters, the last a check character
computed from the first 17, so that a mistyped code is refused where it is typed."""

from services.identifiers import canonical

# The code's alphabet: digits and the capitals without I, O, S, V and Z (GB 32100-2015, table 1).
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# The weight of each of the first 17 positions: 3 ** i mod 31.
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18


def check_character(body: str) -> str:
    """The check character of the first 17 characters of a code (all in ALPHABET)."""
    total = sum(ALPHABET.index(ch) * weight for ch, weight in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise(text: str | None) -> str:
    """The code as typed, in its one spelling: full-width and lower-case letters, spaces and dashes gone."""
    return "".join(ch for ch in canonical(text).upper() if not ch.isspace() and ch not in "-－")


def problem(code: str) -> str | None:
    """What is wrong with a normalised code, in words for the person who typed it; None when it is valid."""
    if not code:
        return "请填写统一社会信用代码"
    if len(code) != LENGTH:
        return f"统一社会信用代码应为 {LENGTH} 位（现为 {len(code)} 位）"
    wrong = sorted({ch for ch in code if ch not in ALPHABET})
    if wrong:
        return f"统一社会信用代码不含字符 {'、'.join(wrong)}（不使用 I、O、S、V、Z）"
    if check_character(code[:17]) != code[17]:
        return "统一社会信用代码的校验位不对，请核对后重新输入"
    return None


def is_valid(code: str) -> bool:
    return problem(normalise(code)) is None
