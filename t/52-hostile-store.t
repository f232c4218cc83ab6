#!/bin/sh
# Hostile inputs end to end (t/data/hostile.tsv through task_run, as a bee
# or --apply runs them): each fails with its cause and writes no row.
. "$(dirname "$0")/lib/fbtest.sh"
[ -x "$FB_BUILDDIR/t/test-store-hostile" ] || skip_all "not built"
pg_start || { echo "Bail out! PostgreSQL did not start"; exit 1; }
T=$(fb_tmpdir)
cat >"$T/fb.conf" <<EOC
colonies: { funcnames = [ "validate_revenue", "validate_revenue_v2" ]; };
database: { conninfo = ""; connect_timeout = 2; statement_timeout = 3; };
stripe: {
	livemode = false;
	webhook_secrets = [ ];
	tiers = [ "bronze", "silver", "gold" ];
	prices = ( { price = "price_gold_monthly"; tier = "gold"; } );
};
EOC
"$FB_BUILDDIR/financebeed" -c "$T/fb.conf" --migrate >/dev/null || {
	echo "Bail out! --migrate failed"; exit 1; }
psql_q -c "INSERT INTO user_profiles (id) VALUES
	('7c9e6679-7425-40de-944b-e07fc1f90ae7')" >/dev/null
"$FB_BUILDDIR/t/test-store-hostile" "$FB_SRCDIR/t/data/hostile.tsv" "$T/fb.conf"
