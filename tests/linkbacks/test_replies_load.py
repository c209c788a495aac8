"""A small run of benchmarks/replies_load.py: the same checks (none lost,
none stored twice, the limits hold against floods), fewer replies."""

from benchmarks import replies_load


def test_replies_load_smoke_loses_nothing_and_the_limits_hold(capsys):
    assert replies_load.run(replies=60, clients=4, reviews=2, flood=40) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and out.count("[ok]") == 9, out
    assert "60 replies (preview + send each) from 4 client threads" in out and "req/s" in out and "p99" in out
