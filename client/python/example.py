"""Lists a town's workers and follows its changes, with the admin token.

    PYTHONPATH=build/python:client/python SHEGONG_TOKEN_FILE=demo-data/db/admin.token \
        python3 client/python/example.py 127.0.0.1 7420 320602001
"""
import sys

from shegong_client import Client, NotFound

host, port, town = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with Client(host, port) as c:
    print("server", c.call("Admin/Hello").server_version)
    page = c.call("Workers/List", town_code=town, page_size=5)
    for w in page.workers:
        print(w.id, w.name, w.unit_code, w.id_number)
    try:
        c.call("Workers/Get", id=10**9)
    except NotFound as e:
        print("as expected:", e)
    changes = sum(len(m.changes) for m in c.stream("Sync/Pull", town_code=town, since=0, limit=100))
    print(changes, "changes pulled")
