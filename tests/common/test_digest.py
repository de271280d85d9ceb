import hashlib

from common.digest import file_sha256


def test_file_sha256_read_in_chunks_equals_hashlib_on_the_whole_bytes(tmp_path):
    data = bytes(range(256)) * 41 + b"tail"  # 10500 bytes: several chunks and a short last one
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_sha256(path, chunk=1000) == hashlib.sha256(data).hexdigest()
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert file_sha256(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()
