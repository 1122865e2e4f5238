# Sourced by tools/demo/run.sh (uses its cluster, $dir, $demo_today, demo_serve): an MSP's month.
# tools/demo/msp.py generates a few dozen companies' licences as Pax8 sells them and as the MSP
# bills them in ConnectWise Manage; the two fakes (test/fake/pax8_fake.py, connectwise_fake.py,
# run by tools/demo/serve_fake.py with that data) serve them; tools/demo/msp.sql syncs, maps and
# shows every reconciliation view.
# dir, demo_today and the ports are set by run.sh and demo_serve:
# shellcheck shell=bash disable=SC2154
echo
echo "== generating an MSP's licences (tools/demo/msp.py) and serving them from the Pax8 and ConnectWise fakes"
python3 "$PGB_SRC/tools/demo/msp.py" "$dir/msp.json" --today "$demo_today"
demo_serve msp_pax8_port pax8 python3 "$PGB_SRC/tools/demo/serve_fake.py" pax8 "$dir/msp.json" \
    --certs "$dir/certs" --logs "$dir/pax8_logs"
demo_serve msp_cw_port connectwise python3 "$PGB_SRC/tools/demo/serve_fake.py" connectwise "$dir/msp.json" \
    --certs "$dir/certs" --logs "$dir/cw_logs"
pgb_psql -d postgres -P pager=off -v today="$demo_today" -v month="${demo_today%-*}-01" \
    -v own_tenant="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["own_tenant"])' "$dir/msp.json")" \
    -v pax8_url="https://127.0.0.1:$msp_pax8_port/s/ok-demo" -v cw_url="https://127.0.0.1:$msp_cw_port/s/ok-demo" \
    -f "$PGB_SRC/tools/demo/msp.sql"
