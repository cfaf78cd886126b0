-- The role the service acts as. Migrations run as the database owner; every pooled
-- connection switches to this role (SET ROLE), so the privileges below, not the code,
-- decide what the service may change. Roles are cluster-wide, hence IF NOT EXISTS.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chainbook_app') THEN
        CREATE ROLE chainbook_app NOLOGIN;
    END IF;
END
$$;

-- The owner must be a member to SET ROLE to it (superusers are implicitly).
GRANT chainbook_app TO CURRENT_USER;

-- Refuses any change to an append-only table. Raised as insufficient_privilege so the
-- service classifies it like a missing grant.
CREATE OR REPLACE FUNCTION chainbook_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'chainbook: % on % is refused: this table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
