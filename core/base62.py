"""Base62 with the alphabet 0-9a-zA-Z.

Codes order like their numbers by (length, alphabet position), not by plain
string comparison: in ASCII "A" sorts before "a" but follows it here.
"""

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_INDEX = {char: i for i, char in enumerate(ALPHABET)}


def encode(number: int) -> str:
    if number < 0:
        raise ValueError("base62 encodes non-negative integers only")
    if number == 0:
        return ALPHABET[0]
    chars = []
    while number:
        number, rem = divmod(number, 62)
        chars.append(ALPHABET[rem])
    return "".join(reversed(chars))


def decode(text: str) -> int:
    if not text:
        raise ValueError("empty base62 string")
    number = 0
    for char in text:
        try:
            number = number * 62 + _INDEX[char]
        except KeyError:
            raise ValueError(f"invalid base62 character {char!r}") from None
    return number


def encode_padded(number: int, length: int) -> str:
    """``encode`` left-padded with the zero digit to exactly ``length`` characters."""
    code = encode(number)
    if len(code) > length:
        raise ValueError(f"{number} needs more than {length} base62 characters")
    return code.rjust(length, ALPHABET[0])
