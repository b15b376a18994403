"""ntlmref -- reference NTLM arithmetic for test generators (reference ms-sipae.md section 6).

Crypto comes from libraries only: hashlib/hmac for MD5 and HMAC-MD5, nettle (through ctypes) for
MD4 and RC4 with any key length (OpenSSL 3's default provider has neither).

    rc4(key, data), md4(data), hmac_md5(key, data)
    ess_keys(esk, direction)  -> (sign_key, seal_key)      direction "c2s" or "s2c", 128-bit
    ess_mac(esk, direction, buf, seq=100, key_exch=True) -> 16-byte MS-SIPAE signature
"""
import ctypes
import ctypes.util
import hashlib
import hmac
import struct

_nettle_name = ctypes.util.find_library("nettle") or "libnettle.so.8"
try:
    _nettle = ctypes.CDLL(_nettle_name)
except OSError:  # pragma: no cover - libnettle8 is a dependency of GnuTLS
    _nettle = None

available = _nettle is not None


def rc4(key, data):
    """RC4 from nettle (any key length, as needed for the weakened NTLM keys)."""
    ctx = ctypes.create_string_buffer(512)  # struct arcfour_ctx is 258 bytes
    _nettle.nettle_arcfour_set_key(ctx, ctypes.c_size_t(len(key)), key)
    out = ctypes.create_string_buffer(len(data))
    _nettle.nettle_arcfour_crypt(ctx, ctypes.c_size_t(len(data)), out, data)
    return out.raw


def md4(data):
    """MD4 from nettle."""
    ctx = ctypes.create_string_buffer(512)
    _nettle.nettle_md4_init(ctx)
    _nettle.nettle_md4_update(ctx, ctypes.c_size_t(len(data)), data)
    out = ctypes.create_string_buffer(16)
    _nettle.nettle_md4_digest(ctx, ctypes.c_size_t(16), out)
    return out.raw


def hmac_md5(key, data):
    return hmac.new(key, data, "md5").digest()


def _magic(direction, kind):
    d = "client-to-server" if direction == "c2s" else "server-to-client"
    return ("session key to %s %s key magic constant\0" % (d, kind)).encode()


def ess_keys(esk, direction):
    """[MS-NLMP] 3.4.5.2/3.4.5.3 with NEGOTIATE_128: SignKey and SealKey of one direction."""
    sign = hashlib.md5(esk + _magic(direction, "signing")).digest()
    seal = hashlib.md5(esk + _magic(direction, "sealing")).digest()
    return sign, seal


def ess_mac(esk, direction, buf, seq=100, key_exch=True):
    """MS-SIPAE NTLM signature with extended session security: 01000000 | checksum | seq."""
    sign, seal = ess_keys(esk, direction)
    s = struct.pack("<I", seq)
    ck = hmac_md5(sign, s + buf)[:8]
    if key_exch:
        ck = rc4(hashlib.md5(seal + s).digest(), ck)
    return b"\x01\x00\x00\x00" + ck + s
