/* The journal's hash chain in one call a batch (hall/record.py says what the chain is).
 *
 * Why C: in Python each event's link cost about 0.9 us of the GIL on the writer thread (its
 * public frame built and encoded, then hashlib's SHA-256, whose set-up is most of its cost for
 * a message this small), and the journal shares the GIL with the event loop: the chain took
 * a sixth off the journal's events/s (docs/durability.md). Here, with the GIL held, each bid's
 * canonical JSON is written straight from the event's fields into one buffer (any other kind
 * of event, or a bid whose fields the fast path does not cover, is encoded by the Python
 * function passed in); then, with the GIL released, every event's digest is computed in turn
 * with OpenSSL's SHA-256, so the event loop runs while the SQLite writer thread's batch hashes
 * (the Redis store calls it on the loop itself, where it is only the faster code).
 *
 * tests/test_record.py holds the result to a chain computed with hashlib and Python's json
 * module, for every kind of event, every optional key present and absent, and bidders whose
 * text takes the slow path.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <openssl/evp.h>
#include <string.h>

#define DIGEST 32

static EVP_MD *sha256;
static PyObject *s_lot, *s_seq, *s_ts, *s_amount, *s_bidder, *s_ends_at, *s_floor;
static char pairs[200]; /* "00" "01" … "99": two digits a step when writing an integer */

enum { F_LOT, F_SEQ, F_TS, F_AMOUNT, F_BIDDER, F_ENDS_AT, F_FLOOR, FIELDS };

/* Where a bid's fields sit in the event object. A msgspec Struct keeps each field in a slot,
 * described by a member descriptor on its type: reading the slot directly skips the attribute
 * look-up (the type's dict, then the descriptor), which was a third of this file's time a bid.
 * A field not kept so (another Struct library, a property) makes every bid take the slow path. */
typedef struct {
    Py_ssize_t at[FIELDS];
    int direct;
} Layout;

static void layout_of(PyTypeObject *type, Layout *layout)
{
    PyObject *names[FIELDS] = {s_lot, s_seq, s_ts, s_amount, s_bidder, s_ends_at, s_floor};
    layout->direct = 1;
    for (int f = 0; f < FIELDS; f++) {
        PyObject *descr = PyObject_GetAttr((PyObject *)type, names[f]);
        if (descr == NULL) {
            PyErr_Clear();
            layout->direct = 0;
            return;
        }
        if (Py_IS_TYPE(descr, &PyMemberDescr_Type) && ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX)
            layout->at[f] = ((PyMemberDescrObject *)descr)->d_member->offset;
        else
            layout->direct = 0;
        Py_DECREF(descr);
    }
}

/* A field of a bid, borrowed; NULL (no error set) when its slot is empty. */
static inline PyObject *field(PyObject *event, const Layout *layout, int f)
{
    return *(PyObject **)((char *)event + layout->at[f]);
}

/* A growing buffer, only ever resized with the GIL held. */
typedef struct {
    char *data;
    Py_ssize_t size, cap;
} Buf;

static int reserve(Buf *b, Py_ssize_t more)
{
    if (b->size + more <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 8192;
    while (cap < b->size + more)
        cap *= 2;
    char *data = PyMem_Realloc(b->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static void put(Buf *b, const char *text, Py_ssize_t n)
{
    memcpy(b->data + b->size, text, n);
    b->size += n;
}

#define PUT(b, literal) put((b), (literal), (Py_ssize_t)sizeof(literal) - 1)

static void put_int(Buf *b, long long value)
{
    char digits[24];
    char *end = digits + sizeof digits, *at = end;
    unsigned long long v = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    while (v >= 100) {
        at -= 2;
        memcpy(at, pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        at -= 2;
        memcpy(at, pairs + 2 * v, 2);
    } else {
        *--at = (char)('0' + v);
    }
    if (value < 0)
        *--at = '-';
    put(b, at, end - at);
}

/* An int field's value: 0 and *out set, 1 when the fast path does not cover it (not an int, or
 * beyond 64 bits), -1 on error. With allow_none, None sets *none. */
static int int_value(PyObject *v, long long *out, int allow_none, int *none)
{
    if (v == NULL)
        return 1;
    if (allow_none && v == Py_None) {
        *none = 1;
        return 0;
    }
    if (!PyLong_CheckExact(v))
        return 1;
    int overflow;
    if (allow_none)
        *none = 0;
    *out = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow)
        return 1;
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* A bid's canonical frame, keys sorted (hall/record.py's _BidFrame):
 * {"bidder":…,"ends_at":…,["floor":true,]"kind":"bid","lot":…,"price":…,"seq":…,"ts":…,"type":"event"}
 * Returns 0 when written, 1 when the slow path must write it (nothing written), -1 on error.
 * The bidder goes in as it is only when every byte is printable ASCII other than '"' and '\',
 * so that no JSON escaping can be needed. */
static int write_bid(Buf *b, PyObject *event, const Layout *layout)
{
    long long lot, seq, ts, amount, ends_at = 0;
    int ends_none = 0, r;
    if ((r = int_value(field(event, layout, F_LOT), &lot, 0, NULL)) != 0 ||
        (r = int_value(field(event, layout, F_SEQ), &seq, 0, NULL)) != 0 ||
        (r = int_value(field(event, layout, F_TS), &ts, 0, NULL)) != 0 ||
        (r = int_value(field(event, layout, F_AMOUNT), &amount, 0, NULL)) != 0 ||
        (r = int_value(field(event, layout, F_ENDS_AT), &ends_at, 1, &ends_none)) != 0)
        return r;
    PyObject *floor = field(event, layout, F_FLOOR);
    if (floor != Py_True && floor != Py_False)
        return 1;
    int is_floor = floor == Py_True;
    PyObject *bidder = field(event, layout, F_BIDDER);
    if (bidder == NULL || !PyUnicode_CheckExact(bidder))
        return 1;
    Py_ssize_t length;
    const char *text = PyUnicode_AsUTF8AndSize(bidder, &length);
    if (text == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            return 1;
    }
    /* the fixed text (under 100 bytes), the bidder, and five integers of at most 20 each */
    if (reserve(b, 256 + length) < 0)
        return -1;
    PUT(b, "{\"bidder\":\"");
    put(b, text, length);
    PUT(b, "\",\"ends_at\":");
    if (ends_none)
        PUT(b, "null");
    else
        put_int(b, ends_at);
    if (is_floor)
        PUT(b, ",\"floor\":true");
    PUT(b, ",\"kind\":\"bid\",\"lot\":");
    put_int(b, lot);
    PUT(b, ",\"price\":");
    put_int(b, amount);
    PUT(b, ",\"seq\":");
    put_int(b, seq);
    PUT(b, ",\"ts\":");
    put_int(b, ts);
    PUT(b, ",\"type\":\"event\"}");
    return 0;
}

typedef struct {
    Py_ssize_t lot; /* index into the batch's lots */
    Py_ssize_t at;  /* where its 32-byte slot for the digest before it starts in the buffer */
    Py_ssize_t length;
} Item;

PyDoc_STRVAR(links_doc,
"links(heads, events, bid_type, canonical) -> list[bytes]\n\n"
"The digest after each of events (lots mixed), each lot's chain going on from its digest in\n"
"heads, which is left holding the digest after each lot's last event. Events of exactly\n"
"bid_type are written here; canonical(event) gives any other event's bytes.");

static PyObject *links(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "links(heads, events, bid_type, canonical)");
        return NULL;
    }
    PyObject *heads = args[0], *bid_type = args[2], *canonical = args[3];
    if (!PyDict_Check(heads)) {
        PyErr_SetString(PyExc_TypeError, "heads must be a dict");
        return NULL;
    }
    PyObject *events = PySequence_Fast(args[1], "events must be a sequence");
    if (events == NULL)
        return NULL;
    /* Borrowed from ``events``: ``canonical`` must not change the sequence it is given. */
    Py_ssize_t n = PySequence_Fast_GET_SIZE(events);
    PyObject **items = PySequence_Fast_ITEMS(events);
    if (!PyType_Check(bid_type)) {
        PyErr_SetString(PyExc_TypeError, "bid_type must be a type");
        Py_DECREF(events);
        return NULL;
    }
    Layout layout;
    layout_of((PyTypeObject *)bid_type, &layout);
    PyObject *result = NULL, *index = PyDict_New(), *lots = PyList_New(0);
    Buf buf = {0}, states = {0};
    Item *plan = PyMem_Malloc(sizeof(Item) * (n ? n : 1));
    unsigned char *digests = PyMem_Malloc(DIGEST * (n ? n : 1));
    if (index == NULL || lots == NULL || plan == NULL || digests == NULL) {
        if (plan == NULL || digests == NULL)
            PyErr_NoMemory();
        goto done;
    }

    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *event = items[i];
        int bid = layout.direct && Py_IS_TYPE(event, (PyTypeObject *)bid_type);
        PyObject *lot = bid ? Py_XNewRef(field(event, &layout, F_LOT)) : NULL;
        if (lot == NULL && (lot = PyObject_GetAttr(event, s_lot)) == NULL)
            goto done;
        PyObject *known = PyDict_GetItemWithError(index, lot);
        if (known == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(lot);
                goto done;
            }
            PyObject *head = PyDict_GetItemWithError(heads, lot);
            if (head == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetObject(PyExc_KeyError, lot);
                Py_DECREF(lot);
                goto done;
            }
            if (!PyBytes_Check(head) || PyBytes_GET_SIZE(head) != DIGEST) {
                PyErr_Format(PyExc_ValueError, "the head of lot %R is not %d bytes", lot, DIGEST);
                Py_DECREF(lot);
                goto done;
            }
            PyObject *number = PyLong_FromSsize_t(PyList_GET_SIZE(lots));
            if (number == NULL || PyDict_SetItem(index, lot, number) < 0 || PyList_Append(lots, lot) < 0 ||
                reserve(&states, DIGEST) < 0) {
                Py_XDECREF(number);
                Py_DECREF(lot);
                goto done;
            }
            Py_DECREF(number);
            put(&states, PyBytes_AS_STRING(head), DIGEST);
            known = PyDict_GetItemWithError(index, lot);
        }
        Py_DECREF(lot);
        plan[i].lot = PyLong_AsSsize_t(known);
        if (reserve(&buf, DIGEST) < 0)
            goto done;
        plan[i].at = buf.size;
        buf.size += DIGEST; /* filled with the digest before it, when hashing */
        int written = bid ? write_bid(&buf, event, &layout) : 1;
        if (written < 0)
            goto done;
        if (written == 1) {
            PyObject *bytes = PyObject_CallOneArg(canonical, event);
            if (bytes == NULL)
                goto done;
            if (!PyBytes_Check(bytes)) {
                Py_DECREF(bytes);
                PyErr_SetString(PyExc_TypeError, "canonical() must return bytes");
                goto done;
            }
            if (reserve(&buf, PyBytes_GET_SIZE(bytes)) < 0) {
                Py_DECREF(bytes);
                goto done;
            }
            put(&buf, PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes));
            Py_DECREF(bytes);
        }
        plan[i].length = buf.size - plan[i].at - DIGEST;
    }

    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    failed = ctx == NULL;
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        unsigned char *slot = (unsigned char *)buf.data + plan[i].at;
        unsigned char *state = (unsigned char *)states.data + DIGEST * plan[i].lot;
        memcpy(slot, state, DIGEST);
        failed = EVP_DigestInit_ex2(ctx, sha256, NULL) != 1 ||
                 EVP_DigestUpdate(ctx, slot, DIGEST + plan[i].length) != 1 ||
                 EVP_DigestFinal_ex(ctx, digests + DIGEST * i, NULL) != 1;
        memcpy(state, digests + DIGEST * i, DIGEST);
    }
    EVP_MD_CTX_free(ctx);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL's SHA-256 failed");
        goto done;
    }

    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *digest = PyBytes_FromStringAndSize((const char *)digests + DIGEST * i, DIGEST);
        if (digest == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, digest);
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(lots); k++) {
        PyObject *digest = PyBytes_FromStringAndSize(states.data + DIGEST * k, DIGEST);
        if (digest == NULL || PyDict_SetItem(heads, PyList_GET_ITEM(lots, k), digest) < 0) {
            Py_XDECREF(digest);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(digest);
    }

done:
    PyMem_Free(buf.data);
    PyMem_Free(states.data);
    PyMem_Free(plan);
    PyMem_Free(digests);
    Py_XDECREF(index);
    Py_XDECREF(lots);
    Py_DECREF(events);
    return result;
}

static PyMethodDef methods[] = {
    {"links", (PyCFunction)(void (*)(void))links, METH_FASTCALL, links_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "hall._chain", "The journal's hash chain, a batch a call (hall/_chain.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__chain(void)
{
    for (int i = 0; i < 100; i++) {
        pairs[2 * i] = (char)('0' + i / 10);
        pairs[2 * i + 1] = (char)('0' + i % 10);
    }
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256 == NULL) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL has no SHA-256");
        return NULL;
    }
    if ((s_lot = PyUnicode_InternFromString("lot")) == NULL || (s_seq = PyUnicode_InternFromString("seq")) == NULL ||
        (s_ts = PyUnicode_InternFromString("ts")) == NULL || (s_amount = PyUnicode_InternFromString("amount")) == NULL ||
        (s_bidder = PyUnicode_InternFromString("bidder")) == NULL ||
        (s_ends_at = PyUnicode_InternFromString("ends_at")) == NULL ||
        (s_floor = PyUnicode_InternFromString("floor")) == NULL)
        return NULL;
    return PyModule_Create(&module);
}
