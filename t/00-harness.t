#!/bin/sh
# The test harness itself: a throwaway PostgreSQL starts, answers and is
# stopped again by PID.
. "$(dirname "$0")/lib/fbtest.sh"
plan 3
pg_start
ok $? "throwaway PostgreSQL 15 cluster started"
is "$(psql_q -c 'SHOW server_version_num' | cut -c1-2)" "15" "it is PostgreSQL 15"
is "$(psql_q -c 'SELECT current_database()')" "financebee" "database financebee exists"
