-- pg_billing 0.7.0: the triggers a sync's every page fires find the documents they need by one
-- index probe each, instead of reading a whole table that grows with the site. Each file of this
-- folder is one topic's change from 0.6.0; the Makefile assembles them into the upgrade script
-- pg_billing--0.6.0--0.7.0.sql, and a fresh install of 0.7.0 runs the files of every earlier release
-- and then these same files, so both end in the same state.
\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.7.0'" to load this file. \quit
