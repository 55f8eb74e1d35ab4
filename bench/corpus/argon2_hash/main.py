"""argon2-cffi: hash, verify, reject a wrong password, rehash check, low-level API."""
import argon2
from argon2 import PasswordHasher, exceptions, low_level

ph = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
h = ph.hash("correct horse battery staple")
print("prefix:", h.split("$")[1], h.split("$")[3])
print("verify:", ph.verify(h, "correct horse battery staple"))
try:
    ph.verify(h, "wrong")
except exceptions.VerifyMismatchError:
    print("mismatch detected")
print("needs rehash with stronger params:", PasswordHasher(time_cost=3).check_needs_rehash(h))
raw = low_level.hash_secret_raw(b"secret", b"somesalt", time_cost=1, memory_cost=8, parallelism=1,
                                hash_len=16, type=low_level.Type.ID)
print("raw:", raw.hex())
print("params:", argon2.extract_parameters(h).memory_cost)
