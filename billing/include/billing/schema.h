/* billing/schema.h — the numbered, forward-only migrations in schema/,
 * compiled in. Applied in order by bill_schema_upgrade(); the version is kept
 * in the table schema_version. */
#ifndef BILLING_SCHEMA_H
#define BILLING_SCHEMA_H

struct bill_migration {
	int version;       /* from the file name: 0001_init.sql -> 1 */
	const char *name;  /* file name */
	const char *sql;
};

extern const struct bill_migration bill_migrations[];
extern const int bill_migrations_n;

#endif
