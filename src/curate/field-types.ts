// The target schema's field types (their own module so the pipeline and the rules can share them).
export const FIELD_TYPES = ['string', 'int', 'float', 'bool', 'date', 'timestamp'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** The DuckDB type of each field type. */
export const DUCK_TYPES: Record<FieldType, string> = {
  string: 'VARCHAR',
  int: 'BIGINT',
  float: 'DOUBLE',
  bool: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};
