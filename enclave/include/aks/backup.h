/*
 * aks/backup.h — the sealed keystore's backup in S3 (issue 18 item 3; runbook docs/signer-backup.md).
 *
 * --backup s3://BUCKET/PREFIX (AKS_BACKUP). Endpoint, region and credentials come from the
 * environment as for the functions (ak_s3_config_from_env, ak_s3_env_creds: AWS_REGION,
 * AK_S3_ENDPOINT, AWS_ACCESS_KEY_ID/SECRET/SESSION_TOKEN; on the Nitro host the instance role
 * through the vsock proxy).
 *
 * What is written: the sealed bytes exactly as in keystore.sealed (AES-256-GCM under the sealing
 * key; nothing in clear), as a NEW object after every keystore write (new K3 epoch, key
 * rotation) and once at start when the newest backup is not the local file. Never overwritten,
 * never deleted (bucket versioning and a role without s3:DeleteObject are the operator's second
 * line). Object key:
 *
 *   PREFIX keystore-<epochs, 10 digits>-<unix ms, 13 digits>-<sha256 of the bytes, 16 hex>.sealed
 *
 * so key order is (epoch count, time): the newest backup is the greatest key. A restore checks
 * the bytes against the hash in the name; the rollback guard (aks/rollback.h) then checks the
 * keystore against the chain, so a stale backup is refused, not served.
 *
 * Beside them, with the nitro sealer: PREFIX keystore.datakey, the KMS ciphertext of the sealing
 * key (aks/sealer.h), written once, create-only, by the deployment's first signer; every later
 * enclave, which starts with an empty state dir, reads it from here.
 */
#ifndef AKS_BACKUP_H
#define AKS_BACKUP_H

#include <stdint.h>

#include "ak/bytes.h"
#include "ak/imds.h"
#include "aks/sealer.h"

#define AKS_BACKUP_KEY_MAX 600u

typedef struct aks_backup aks_backup;

/* AK_E_CONFIG for a malformed spec or missing S3 settings (names nothing secret). `connect`
 * (--backup-connect; NULL = direct) is where every S3 connection goes while the URL keeps the real
 * host (ak/connector.h: vsock:3:8001 inside the enclave); `imds` (borrowed, NULL = the AWS_*
 * environment) supplies the instance role's credentials for each call. */
AK_MUST ak_err aks_backup_open(const char *spec, const char *connect, ak_imds *imds, aks_backup **out);
void aks_backup_free(aks_backup *b);
/* Writes one new backup object. AK_E_SIGNER_BACKUP when S3 refuses or fails. */
AK_MUST ak_err aks_backup_put(aks_backup *b, ak_cur sealed, uint32_t n_epochs);
/* aks_keystore_saved_fn for the keystore (ud = aks_backup *). */
AK_MUST ak_err aks_backup_on_saved(void *ud, ak_cur sealed, uint32_t n_epochs);
/* The newest backup's key; AK_E_NOT_FOUND when there is none. The listing behind it (and behind
 * restore, sync and the data key store) is held until this signer next writes to the prefix, so a
 * start lists the bucket once ("keystore backups listed" in the log). Not for concurrent callers:
 * the signer uses it during its single-threaded start. */
AK_MUST ak_err aks_backup_newest(aks_backup *b, char key[AKS_BACKUP_KEY_MAX]);
/* Writes the newest backup to `path` (0600, atomic) after checking its hash; AK_E_NOT_FOUND when
 * there is none, AK_E_SIGNER_BACKUP when it cannot be read or does not match its name. */
AK_MUST ak_err aks_backup_restore(aks_backup *b, const char *path, char key[AKS_BACKUP_KEY_MAX]);
/* At start: backs `sealed` up unless the newest backup already holds exactly these bytes. */
AK_MUST ak_err aks_backup_sync(aks_backup *b, ak_cur sealed, uint32_t n_epochs);
/* The nitro sealer's data key store in this bucket (aks/sealer.h): the object PREFIX
 * keystore.datakey, saved with If-None-Match: *. Orphans: any keystore backup under PREFIX, or
 * `keystore_path` on disk. A failed listing or read is AK_E_SIGNER_BACKUP (never "none"). */
AK_MUST ak_err aks_backup_datakey_store(aks_backup *b, const char *keystore_path, aks_datakey_store *out);
/* Parses a backup object name (the part after PREFIX); false when it is not one of ours. */
bool aks_backup_parse_name(ak_cur name, uint32_t *n_epochs, uint64_t *ms, uint8_t hash8[8]);

#endif
