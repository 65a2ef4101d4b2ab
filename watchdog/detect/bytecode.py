"""What runtime bytecode says without its source: dispatcher selectors (flash-loan callbacks), dangerous
opcodes, embedded addresses, proxy patterns, and the compiler's metadata hash (to find the source)."""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils import keccak

# Callbacks that lenders and pools call on the borrower; an exploit contract implements at least one.
FLASH_CALLBACK_SIGNATURES = (
    "executeOperation(address[],uint256[],uint256[],address,bytes)",  # Aave V2/V3 flashLoan
    "executeOperation(address,uint256,uint256,address,bytes)",  # Aave V3 flashLoanSimple
    "receiveFlashLoan(address[],uint256[],uint256[],bytes)",  # Balancer V2
    "onFlashLoan(address,address,uint256,uint256,bytes)",  # ERC-3156 (Maker DssFlash...)
    "uniswapV2Call(address,uint256,uint256,bytes)",
    "pancakeCall(address,uint256,uint256,bytes)",
    "uniswapV3FlashCallback(uint256,uint256,bytes)",
    "pancakeV3FlashCallback(uint256,uint256,bytes)",
    "DVMFlashLoanCall(address,uint256,uint256,bytes)",  # DODO
    "DPPFlashLoanCall(address,uint256,uint256,bytes)",
    "DSPFlashLoanCall(address,uint256,uint256,bytes)",
    "callFunction(address,(address,uint256),bytes)",  # dYdX SoloMargin
)
FLASH_CALLBACKS = {keccak(text=sig)[:4].hex(): sig.split("(")[0] for sig in FLASH_CALLBACK_SIGNATURES}

# EIP-1967 slots: keccak256("eip1967.proxy.<name>") - 1.
EIP1967_SLOTS = {
    "implementation": 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC,
    "admin": 0xB53127684A568B3173AE13B9F8A6016E243E63B6E8EE1178D6A717850B5D6103,
    "beacon": 0xA3F0AD74E5423AEBFD80D3EF4346578335A9A72AEAEE59FF6CB3582B35133D50,
}
# EIP-1167 minimal proxy: 363d3d373d3d3d363d73 <20-byte target> 5af43d82803e903d91602b57fd5bf3
MINIMAL_PROXY_PREFIX = bytes.fromhex("363d3d373d3d3d363d73")
MINIMAL_PROXY_SUFFIX = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")

PUSH1, PUSH4, PUSH20, PUSH32 = 0x60, 0x63, 0x73, 0x7F
DELEGATECALL, CALLCODE, SELFDESTRUCT, CREATE, CREATE2 = 0xF4, 0xF2, 0xFF, 0xF0, 0xF5


@dataclass(slots=True)
class BytecodeFacts:
    size: int
    selectors: set[str] = field(default_factory=set)  # 4-byte constants pushed (dispatcher entries among them)
    flash_callbacks: list[str] = field(default_factory=list)
    opcodes: set[str] = field(default_factory=set)  # of DELEGATECALL, CALLCODE, SELFDESTRUCT, CREATE, CREATE2
    addresses: set[str] = field(default_factory=set)  # 20-byte constants (PUSH20, or PUSH32 left-padded: immutables)
    eip1967: list[str] = field(default_factory=list)  # which EIP-1967 slots the code names
    minimal_proxy_target: str | None = None
    metadata: dict[str, bytes] = field(default_factory=dict)  # CBOR trailer: ipfs / bzzr1 / solc


def split_metadata(code: bytes) -> tuple[bytes, dict[str, bytes]]:
    """(code without the CBOR metadata trailer, the trailer's fields); unknown trailers are left alone."""
    if len(code) < 4:
        return code, {}
    length = int.from_bytes(code[-2:], "big")
    if length + 2 > len(code):
        return code, {}
    fields = _cbor_map(code[-2 - length : -2])
    return (code[: -2 - length], fields) if fields else (code, {})


def _cbor_map(data: bytes) -> dict[str, bytes]:
    """The tiny CBOR subset solc writes: a map of text keys to byte strings, text or booleans."""
    if not data or not 0xA1 <= data[0] <= 0xB7:
        return {}
    out: dict[str, bytes] = {}
    pos = 1
    try:
        for _ in range(data[0] - 0xA0):
            key_len = data[pos] - 0x60
            key = data[pos + 1 : pos + 1 + key_len].decode()
            pos += 1 + key_len
            head = data[pos]
            if head in (0xF4, 0xF5):
                out[key], pos = bytes([head == 0xF5]), pos + 1
                continue
            major, short = head >> 5, head & 0x1F
            if major not in (2, 3):
                return {}
            if short == 24:
                size, pos = data[pos + 1], pos + 2
            elif short < 24:
                size, pos = short, pos + 1
            else:
                return {}
            out[key], pos = bytes(data[pos : pos + size]), pos + size
    except (IndexError, UnicodeDecodeError):
        return {}
    return out if pos == len(data) else {}


def analyse(code_hex: str) -> BytecodeFacts:
    code = bytes.fromhex(code_hex.removeprefix("0x"))
    body, metadata = split_metadata(code)
    facts = BytecodeFacts(size=len(code), metadata=metadata)
    if code.startswith(MINIMAL_PROXY_PREFIX) and code[30:45] == MINIMAL_PROXY_SUFFIX:
        facts.minimal_proxy_target = "0x" + code[10:30].hex()
    named = {DELEGATECALL: "DELEGATECALL", CALLCODE: "CALLCODE", SELFDESTRUCT: "SELFDESTRUCT", CREATE: "CREATE", CREATE2: "CREATE2"}
    slots = {value: name for name, value in EIP1967_SLOTS.items()}
    pc = 0
    while pc < len(body):
        op = body[pc]
        if PUSH1 <= op <= PUSH32:
            size = op - PUSH1 + 1
            data = body[pc + 1 : pc + 1 + size]
            if op == PUSH4:
                facts.selectors.add(data.hex())
            elif op == PUSH20 and any(data):
                facts.addresses.add("0x" + data.hex())
            elif op == PUSH32:
                value = int.from_bytes(data, "big")
                if value in slots:
                    facts.eip1967.append(slots[value])
                elif not any(data[:12]) and any(data[12:]) and data[12:16] != b"\0\0\0\0":
                    facts.addresses.add("0x" + data[12:].hex())  # an immutable address, left-padded
            pc += 1 + size
            continue
        if op in named:
            facts.opcodes.add(named[op])
        pc += 1
    facts.flash_callbacks = sorted({FLASH_CALLBACKS[s] for s in facts.selectors if s in FLASH_CALLBACKS})
    return facts


def normalized(code_hex: str, immutable_ranges: list[tuple[int, int]] = ()) -> bytes:
    """Runtime code with the metadata trailer removed and immutable slots zeroed, for code-equality matching."""
    code = bytearray(split_metadata(bytes.fromhex(code_hex.removeprefix("0x")))[0])
    for start, length in immutable_ranges:
        code[start : start + length] = bytes(min(length, max(0, len(code) - start)))
    return bytes(code)
