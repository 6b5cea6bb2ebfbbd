/*
 * aks/nsm.h — the Nitro Secure Module (NSM) protocol: what the nitro attester sends to /dev/nsm
 * and how it reads the answer (issue 18 item 1).
 *
 * Transport (Linux uapi <linux/nsm.h>, drivers/misc/nsm.c; the same interface the AWS
 * aws-nitro-enclaves-nsm-api driver uses): open("/dev/nsm", O_RDWR), then one
 * ioctl(fd, _IOWR(0x0A, 0, struct { iovec request; iovec response; }), &msg) per request. Both
 * iovecs are {u64 addr, u64 len}; the request holds at most 0x1000 bytes of CBOR, the response
 * buffer at most 0x3000; the driver writes the response's length back into response.len.
 * EMSGSIZE means the request was too large. The transport is aks_nsm_ioctl, the only function
 * here that needs the device: everything else is testable with canned bytes.
 *
 * Messages are the CBOR of the NSM API's serde enums (externally tagged):
 *
 *   request   {"Attestation": {"user_data": bstr, "nonce": bstr, "public_key": bstr}}
 *             (each field may be null; ours are always byte strings of at most 1024 bytes)
 *   response  {"Attestation": {"document": bstr}}        the COSE_Sign1 document (ak/nitro.h)
 *             {"Error": tstr}                            InvalidArgument, InvalidIndex,
 *                                                        InvalidResponse, ReadOnlyIndex,
 *                                                        InvalidOperation, BufferTooSmall,
 *                                                        InputTooLarge, InternalError
 *
 * The response is decoded by the strict reader (ak/cbor.h): one item, nothing after it, exactly
 * the one-member maps above. Errors (err.h, the "NSM attester" group):
 *   attest_nsm_unavailable  the device is missing, or the ioctl failed (not an NSM, no rights)
 *   attest_nsm_error        the NSM answered {"Error": ...} (the code is logged)
 *   attest_nsm_malformed    anything else: not strict CBOR, trailing bytes, another shape, an
 *                           empty or oversized document, a response larger than 0x3000 bytes
 */
#ifndef AKS_NSM_H
#define AKS_NSM_H

#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"

#define AKS_NSM_DEVICE "/dev/nsm"
#define AKS_NSM_REQUEST_MAX 0x1000u
#define AKS_NSM_RESPONSE_MAX 0x3000u
#define AKS_NSM_FIELD_MAX 1024u /* user_data, nonce, public_key */

/* One request to the NSM, one response: writes at most `cap` bytes into `resp` and their count
 * into *resp_len. The device implementation is aks_nsm_ioctl (ctx = pointer to the open fd);
 * tests pass their own. */
typedef ak_err (*aks_nsm_transport_fn)(void *ctx, ak_cur req, uint8_t *resp, size_t cap, size_t *resp_len);

/* The /dev/nsm transport. AK_E_ATTEST_NSM_UNAVAILABLE when the ioctl fails (logged with errno),
 * AK_E_TOO_LARGE for a request over AKS_NSM_REQUEST_MAX (or the driver's EMSGSIZE),
 * AK_E_ATTEST_NSM_MALFORMED when the driver reports an impossible length. */
AK_MUST ak_err aks_nsm_ioctl(void *fd_ptr, ak_cur req, uint8_t *resp, size_t cap, size_t *resp_len);

/* Appends the Attestation request for the three fields (each at most AKS_NSM_FIELD_MAX bytes,
 * else AK_E_LIMIT). */
AK_MUST ak_err aks_nsm_attestation_request(ak_cur user_data, ak_cur nonce, ak_cur public_key, ak_buf *req);

/* Reads an Attestation response: on AK_OK *doc views the document inside `resp`. On
 * AK_E_ATTEST_NSM_ERROR *nsm_error (optional) names the NSM's code ("unrecognised" for a code
 * not listed above); on other errors it is NULL. */
AK_MUST ak_err aks_nsm_attestation_response(ak_cur resp, ak_cur *doc, const char **nsm_error);

#endif
