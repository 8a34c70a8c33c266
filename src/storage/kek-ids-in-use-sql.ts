/**
 * The KEK ids stored values name, the same on both engines: a loose index scan (one probe of
 * `secret_versions_kek` per distinct KEK), because every start checks the keyring against it and a
 * plain DISTINCT read every version (BENCHMARKS.md, 1M secrets); plus webhooks' signing secrets.
 */
export const KEK_IDS_IN_USE_SQL = `WITH RECURSIVE k(kek_id) AS (
    SELECT MIN(kek_id) FROM secret_versions
    UNION ALL
    SELECT (SELECT MIN(v.kek_id) FROM secret_versions v WHERE v.kek_id > k.kek_id)
      FROM k WHERE k.kek_id IS NOT NULL
  )
  SELECT kek_id FROM k WHERE kek_id IS NOT NULL
  UNION SELECT secret_kek_id FROM webhooks ORDER BY 1`;
