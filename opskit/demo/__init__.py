"""`make demo`: the whole product on the local account (see opskit.demo.__main__).

upstreams: demo users/products/orders services; traffic: the traffic driver;
project, shell, reaper: the orchestrator's own directory, commands and process bookkeeping.
"""
