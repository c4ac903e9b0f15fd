-- Most contacts have no primary group (imports without one, contacts made through the API),
-- and nothing looks contacts up by a null group_id. Indexing only the rows that have one
-- spares every such insert an index entry; lookups by group (`group_id = $1`, and the
-- foreign key's ON DELETE SET NULL) still use the index.

DROP INDEX idx_contacts_group_id;
CREATE INDEX idx_contacts_group_id ON contacts(group_id) WHERE group_id IS NOT NULL;
