/*
 * A stand-in for Agora's native server SDK (libagora_rtc_sdk.so), written for streamclient's contract tests.
 *
 * It is ours, not Agora's: it implements only the C entry points that the SDK's Python wrapper
 * (agora-python-server-sdk 2.4.10, fetched at test time) calls on the data-stream path, with the behaviour the
 * wrapper relies on: handles, observer registration, the asynchronous connect result, data-stream creation and
 * sends with Agora's error codes. Observer callbacks are fired from native threads (pthreads) that Python did not
 * create, as the real SDK does. Every other symbol the wrapper binds at import is generated at test time as a
 * no-op returning 0 (see native.py). The positions of the callbacks inside the wrapper's observer structures are
 * passed in at run time (stub_set_offset), read from the wrapper's ctypes definitions: nothing here copies them.
 *
 * Test controls are the stub_* functions. Everything is guarded by one mutex; callbacks are invoked without it.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *handle_t;

/* The connection-info structure the wrapper declares for its callbacks (RTCConnInfoInner). */
typedef struct {
    uint64_t id;
    const char *channel_id;
    int state;
    const char *local_user_id;
    unsigned int internal_uid;
} conn_info_t;

typedef void (*state_cb)(handle_t, conn_info_t *, int);
typedef void (*lost_cb)(handle_t, conn_info_t *);
typedef void (*user_cb)(handle_t, const char *);
typedef void (*user_left_cb)(handle_t, const char *, int);
typedef void (*error_cb)(handle_t, int, const char *);
typedef void (*token_cb)(handle_t, const char *);
typedef void (*expired_cb)(handle_t);
typedef void (*stream_error_cb)(handle_t, const char *, int, int, int, int);
typedef void (*stream_message_cb)(handle_t, const char *, int, const char *, size_t);

struct conn;
typedef struct {
    struct conn *conn;
} user_t;

typedef struct conn {
    int magic;
    void *observer;      /* the wrapper's RTCConnectionObserverInner (Python-owned memory) */
    void *user_observer; /* the wrapper's RTCLocalUserObserverInner */
    char channel[256];
    char uid[256];
    user_t user;
} conn_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_idle = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_gate = PTHREAD_COND_INITIALIZER; /* signalled whenever a script key changes */
static int g_in_flight = 0;

/* ---------------------------------------------------------------------------------------- the script */

#define MAX_KEYS 64
static char g_keys[MAX_KEYS][64];
static long long g_values[MAX_KEYS];
static int g_nkeys = 0;

static long long lookup_locked(const char *key, long long fallback) {
    for (int i = 0; i < g_nkeys; i++) {
        if (strcmp(g_keys[i], key) == 0) return g_values[i];
    }
    return fallback;
}

static long long get_int(const char *key, long long fallback) {
    pthread_mutex_lock(&g_lock);
    long long value = lookup_locked(key, fallback);
    pthread_mutex_unlock(&g_lock);
    return value;
}

void stub_set(const char *key, long long value) {
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nkeys; i++) {
        if (strcmp(g_keys[i], key) == 0) {
            g_values[i] = value;
            pthread_cond_broadcast(&g_gate);
            pthread_mutex_unlock(&g_lock);
            return;
        }
    }
    if (g_nkeys < MAX_KEYS) {
        snprintf(g_keys[g_nkeys], sizeof g_keys[0], "%s", key);
        g_values[g_nkeys++] = value;
    }
    pthread_cond_broadcast(&g_gate);
    pthread_mutex_unlock(&g_lock);
}

void stub_note(const char *name);

/* A native call that blocks while the script key `key` is non-zero (a stuck native call, for the tests). */
static void wait_gate(const char *key, const char *blocked_note) {
    if (get_int(key, 0) == 0) return;
    stub_note(blocked_note);
    pthread_mutex_lock(&g_lock);
    while (lookup_locked(key, 0) != 0) pthread_cond_wait(&g_gate, &g_lock);
    pthread_mutex_unlock(&g_lock);
}

static int offset_of(const char *name) { return (int)get_int(name, -1); }

static void *field(void *structure, const char *name) {
    int offset = offset_of(name);
    if (structure == NULL || offset < 0) return NULL;
    return *(void **)((char *)structure + offset);
}

/* Send results, consumed in order; 0 once exhausted. */
static int g_send_codes[256];
static int g_nsend_codes = 0;

void stub_push_send_code(int code) {
    pthread_mutex_lock(&g_lock);
    if (g_nsend_codes < 256) g_send_codes[g_nsend_codes++] = code;
    pthread_mutex_unlock(&g_lock);
}

/* --------------------------------------------------------------------------------------- the records */

static char g_calls[1 << 16];
static size_t g_calls_len = 0;
static unsigned char g_sent[1 << 20];
static size_t g_sent_len = 0;
static int g_nsent = 0;
static char g_log_path[1024];
static int g_use_string_uid = -1;
static conn_t *g_last_conn = NULL;

void stub_note(const char *name) {
    pthread_mutex_lock(&g_lock);
    size_t n = strlen(name);
    if (g_calls_len + n + 2 < sizeof g_calls) {
        memcpy(g_calls + g_calls_len, name, n);
        g_calls_len += n;
        g_calls[g_calls_len++] = '\n';
        g_calls[g_calls_len] = 0;
    }
    pthread_mutex_unlock(&g_lock);
}

const char *stub_calls(void) { return g_calls; }
const unsigned char *stub_sent(void) { return g_sent; }
size_t stub_sent_len(void) { return g_sent_len; }
int stub_sent_count(void) { return g_nsent; }
const char *stub_log_path(void) { return g_log_path; }
int stub_use_string_uid(void) { return g_use_string_uid; }

void stub_wait_idle(void) {
    pthread_mutex_lock(&g_lock);
    while (g_in_flight > 0) pthread_cond_wait(&g_idle, &g_lock);
    pthread_mutex_unlock(&g_lock);
}

void stub_reset(void) {
    stub_wait_idle();
    pthread_mutex_lock(&g_lock);
    g_nkeys = 0;
    pthread_cond_broadcast(&g_gate);
    g_nsend_codes = 0;
    g_calls_len = 0;
    g_calls[0] = 0;
    g_sent_len = 0;
    g_nsent = 0;
    g_log_path[0] = 0;
    g_use_string_uid = -1;
    g_last_conn = NULL;
    pthread_mutex_unlock(&g_lock);
}

/* ------------------------------------------------------------------------------------ native threads */

typedef struct job {
    int kind;
    conn_t *conn;
    int a, b, c, d;
    char name[64];
    char text[256];
    int null_strings;
    unsigned char *data;
    size_t length;
    int repeat;
} job_t;

enum { JOB_STATE, JOB_LOST, JOB_JOINED, JOB_LEFT, JOB_ERROR, JOB_WILL_EXPIRE, JOB_DID_EXPIRE, JOB_STREAM_ERROR,
       JOB_MESSAGE, JOB_CONNECT, JOB_DISCONNECTED };

static void fill_info(conn_info_t *info, conn_t *conn, int state, int null_strings, char *uid_buffer) {
    memset(info, 0, sizeof *info);
    info->id = 1;
    info->state = state;
    if (null_strings) return; /* what the SDK passes before the channel is known */
    info->channel_id = conn->channel;
    long long assigned = get_int("assigned_uid", -1);
    if (assigned >= 0) {
        snprintf(uid_buffer, 32, "%lld", assigned);
        info->local_user_id = uid_buffer;
    } else {
        info->local_user_id = conn->uid;
    }
}

static void fire_state(conn_t *conn, const char *name, int state, int reason, int null_strings) {
    conn_info_t info;
    char uid[32];
    fill_info(&info, conn, state, null_strings, uid);
    pthread_mutex_lock(&g_lock);
    void *observer = conn->observer;
    pthread_mutex_unlock(&g_lock);
    state_cb fn = (state_cb)field(observer, name);
    if (fn) fn(conn, &info, reason);
}

static void run_job(job_t *job) {
    conn_t *conn = job->conn;
    pthread_mutex_lock(&g_lock);
    void *observer = conn->observer;
    void *user_observer = conn->user_observer;
    pthread_mutex_unlock(&g_lock);
    switch (job->kind) {
    case JOB_STATE:
        fire_state(conn, job->name, job->a, job->b, job->null_strings);
        break;
    case JOB_LOST: {
        conn_info_t info;
        char uid[32];
        fill_info(&info, conn, job->a, job->null_strings, uid);
        lost_cb fn = (lost_cb)field(observer, "on_connection_lost");
        if (fn) fn(conn, &info);
        break;
    }
    case JOB_JOINED: {
        user_cb fn = (user_cb)field(observer, "on_user_joined");
        if (fn) fn(conn, job->text);
        break;
    }
    case JOB_LEFT: {
        user_left_cb fn = (user_left_cb)field(observer, "on_user_left");
        if (fn) fn(conn, job->text, job->a);
        break;
    }
    case JOB_ERROR: {
        error_cb fn = (error_cb)field(observer, "on_error");
        if (fn) fn(conn, job->a, job->null_strings ? NULL : job->text);
        break;
    }
    case JOB_WILL_EXPIRE: {
        token_cb fn = (token_cb)field(observer, "on_token_privilege_will_expire");
        if (fn) fn(conn, job->text);
        break;
    }
    case JOB_DID_EXPIRE: {
        expired_cb fn = (expired_cb)field(observer, "on_token_privilege_did_expire");
        if (fn) fn(conn);
        break;
    }
    case JOB_STREAM_ERROR: {
        stream_error_cb fn = (stream_error_cb)field(observer, "on_stream_message_error");
        if (fn) fn(conn, job->text, job->a, job->b, job->c, job->d);
        break;
    }
    case JOB_MESSAGE: {
        stream_message_cb fn = (stream_message_cb)field(user_observer, "on_stream_message");
        for (int i = 0; fn && i < job->repeat; i++) fn(&conn->user, job->text, job->a, (const char *)job->data, job->length);
        break;
    }
    case JOB_CONNECT: {
        wait_gate("connect_gate", "connect_gated"); /* the test decides when the SDK reports */
        int null_strings = (int)get_int("connect_null_strings", 0);
        long long outcome = get_int("connect_outcome", 0); /* 0 connected, 1 failure, 2 error, 3 silent */
        int reason = (int)get_int("fail_reason", 8);
        if (outcome == 3) break;
        fire_state(conn, "on_connecting", 2, 0, null_strings);
        if (outcome == 0 || outcome == 4) {
            fire_state(conn, "on_connected", 3, 1, 0);
            /* 4: a terminal state back to back with on_connected, on the same native thread */
            long long then_kind = get_int("then_kind", 1);
            int then_reason = (int)get_int("then_reason", 3);
            if (outcome == 4 && then_kind == 1) fire_state(conn, "on_disconnected", 1, then_reason, 0);
            if (outcome == 4 && then_kind == 2) fire_state(conn, "on_connection_failure", 5, then_reason, 0);
            if (outcome == 4 && then_kind == 3) fire_state(conn, "on_reconnecting", 4, then_reason, 0);
        } else if (outcome == 1) {
            fire_state(conn, "on_connection_failure", 5, reason, null_strings);
        } else {
            error_cb fn = (error_cb)field(observer, "on_error");
            const char *message = get_int("error_bad_utf8", 0) ? "\xff\xfe refused" : "refused";
            if (fn) fn(conn, (int)get_int("error_code", 110), null_strings ? NULL : message);
        }
        break;
    }
    case JOB_DISCONNECTED:
        fire_state(conn, "on_disconnected", 1, 5, 0);
        break;
    }
}

static void *thread_main(void *arg) {
    job_t *job = arg;
    run_job(job);
    free(job->data);
    free(job);
    pthread_mutex_lock(&g_lock);
    if (--g_in_flight == 0) pthread_cond_broadcast(&g_idle);
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

static void start(job_t *job) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&g_lock);
    g_in_flight++;
    pthread_mutex_unlock(&g_lock);
    if (pthread_create(&thread, &attr, thread_main, job) != 0) {
        thread_main(job); /* no thread: run inline rather than lose the callback */
    }
    pthread_attr_destroy(&attr);
}

static job_t *new_job(int kind) {
    job_t *job = calloc(1, sizeof *job);
    job->kind = kind;
    pthread_mutex_lock(&g_lock);
    job->conn = g_last_conn;
    pthread_mutex_unlock(&g_lock);
    return job;
}

/* Fire callbacks on the last connection, each from its own native thread; returns once they have all run. */
int stub_fire_state(const char *name, int state, int reason, int null_strings) {
    job_t *job = new_job(JOB_STATE);
    if (!job->conn) return free(job), -1;
    snprintf(job->name, sizeof job->name, "%s", name);
    job->a = state;
    job->b = reason;
    job->null_strings = null_strings;
    start(job);
    stub_wait_idle();
    return 0;
}

int stub_fire_lost(int state) {
    job_t *job = new_job(JOB_LOST);
    if (!job->conn) return free(job), -1;
    job->a = state;
    start(job);
    stub_wait_idle();
    return 0;
}

int stub_fire_user(int joined, const char *uid, int reason) {
    job_t *job = new_job(joined ? JOB_JOINED : JOB_LEFT);
    if (!job->conn) return free(job), -1;
    snprintf(job->text, sizeof job->text, "%s", uid);
    job->a = reason;
    start(job);
    stub_wait_idle();
    return 0;
}

int stub_fire_error(int code, const char *message) {
    job_t *job = new_job(JOB_ERROR);
    if (!job->conn) return free(job), -1;
    job->a = code;
    job->null_strings = message == NULL;
    if (message) snprintf(job->text, sizeof job->text, "%s", message);
    start(job);
    stub_wait_idle();
    return 0;
}

int stub_fire_token(int expired, const char *token) {
    job_t *job = new_job(expired ? JOB_DID_EXPIRE : JOB_WILL_EXPIRE);
    if (!job->conn) return free(job), -1;
    snprintf(job->text, sizeof job->text, "%s", token);
    start(job);
    stub_wait_idle();
    return 0;
}

int stub_fire_stream_error(const char *uid, int stream_id, int code, int missed, int cached) {
    job_t *job = new_job(JOB_STREAM_ERROR);
    if (!job->conn) return free(job), -1;
    snprintf(job->text, sizeof job->text, "%s", uid);
    job->a = stream_id;
    job->b = code;
    job->c = missed;
    job->d = cached;
    start(job);
    stub_wait_idle();
    return 0;
}

/* `threads` native threads each deliver `repeat` copies of the message; returns once all were delivered. */
int stub_fire_messages(const char *uid, const unsigned char *data, size_t length, int threads, int repeat) {
    for (int t = 0; t < threads; t++) {
        job_t *job = new_job(JOB_MESSAGE);
        if (!job->conn) return free(job), -1;
        snprintf(job->text, sizeof job->text, "%s", uid);
        job->a = 1;
        job->data = malloc(length + 1);
        memcpy(job->data, data, length);
        job->length = length;
        job->repeat = repeat;
        start(job);
    }
    stub_wait_idle();
    return 0;
}

/* A late callback: a native thread reads the stream-message callback pointer now (as Agora's C wrapper copies its
 * table outside the lock), and calls it only when stub_fire_late() says so, e.g. after the connection was released
 * and destroyed. Not counted in g_in_flight: agora_rtc_conn_destroy does not wait for it (nor does the real one). */
static pthread_mutex_t g_late_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_late_cond = PTHREAD_COND_INITIALIZER;
static int g_late_state = 0; /* 0 idle, 1 armed (pointer read), 2 go, 3 done */
static stream_message_cb g_late_fn = NULL;
static char g_late_uid[64];
static char g_late_data[256];
static size_t g_late_length = 0;
static void *g_late_handle = NULL;

static void *late_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_late_lock);
    while (g_late_state != 2) pthread_cond_wait(&g_late_cond, &g_late_lock);
    stream_message_cb fn = g_late_fn;
    pthread_mutex_unlock(&g_late_lock);
    if (fn) fn(g_late_handle, g_late_uid, 1, g_late_data, g_late_length);
    pthread_mutex_lock(&g_late_lock);
    g_late_state = 3;
    pthread_cond_broadcast(&g_late_cond);
    pthread_mutex_unlock(&g_late_lock);
    return NULL;
}

int stub_arm_late_message(const char *uid, const char *data, size_t length) {
    pthread_mutex_lock(&g_lock);
    conn_t *conn = g_last_conn;
    void *user_observer = conn ? conn->user_observer : NULL;
    pthread_mutex_unlock(&g_lock);
    stream_message_cb fn = (stream_message_cb)field(user_observer, "on_stream_message");
    if (!fn || length >= sizeof g_late_data) return -1;
    pthread_mutex_lock(&g_late_lock);
    g_late_fn = fn;
    g_late_handle = &conn->user; /* an address only: never dereferenced after the connection is freed */
    snprintf(g_late_uid, sizeof g_late_uid, "%s", uid);
    memcpy(g_late_data, data, length);
    g_late_length = length;
    g_late_state = 1;
    pthread_mutex_unlock(&g_late_lock);
    pthread_t thread;
    if (pthread_create(&thread, NULL, late_main, NULL) != 0) return -1;
    pthread_detach(thread);
    return 0;
}

void stub_fire_late(void) {
    pthread_mutex_lock(&g_late_lock);
    g_late_state = 2;
    pthread_cond_broadcast(&g_late_cond);
    while (g_late_state != 3) pthread_cond_wait(&g_late_cond, &g_late_lock);
    g_late_state = 0;
    pthread_mutex_unlock(&g_late_lock);
}

/* ------------------------------------------------------------------------------ the SDK's entry points */

static int g_service_token;
static int g_factory_token;
static int g_parameter_token;

handle_t agora_service_create(void) {
    stub_note("agora_service_create");
    return &g_service_token;
}

int agora_service_initialize(handle_t service, void *config) {
    (void)service;
    stub_note("agora_service_initialize");
    if (config) {
        int uid_offset = offset_of("cfg.use_string_uid");
        int log_offset = offset_of("cfg.log_file_path");
        pthread_mutex_lock(&g_lock);
        if (uid_offset >= 0) g_use_string_uid = *(int *)((char *)config + uid_offset);
        if (log_offset >= 0) {
            const char *path = *(const char **)((char *)config + log_offset);
            snprintf(g_log_path, sizeof g_log_path, "%s", path ? path : "");
        }
        pthread_mutex_unlock(&g_lock);
    }
    return (int)get_int("init_code", 0);
}

handle_t agora_service_get_agora_parameter(handle_t service) {
    (void)service;
    stub_note("agora_service_get_agora_parameter");
    return get_int("parameter_null", 0) ? NULL : &g_parameter_token;
}

handle_t agora_service_create_media_node_factory(handle_t service) {
    (void)service;
    stub_note("agora_service_create_media_node_factory");
    return &g_factory_token;
}

void agora_media_node_factory_destroy(handle_t factory) {
    (void)factory;
    stub_note("agora_media_node_factory_destroy");
}

int agora_service_release(handle_t service) {
    (void)service;
    stub_note("agora_service_release");
    return 0;
}

handle_t agora_rtc_conn_create(handle_t service, void *config) {
    (void)service;
    (void)config;
    stub_note("agora_rtc_conn_create");
    wait_gate("create_block", "create_blocked");
    if (get_int("conn_null", 0)) return NULL;
    conn_t *conn = calloc(1, sizeof *conn);
    conn->magic = 0x41474f52;
    conn->user.conn = conn;
    pthread_mutex_lock(&g_lock);
    g_last_conn = conn;
    pthread_mutex_unlock(&g_lock);
    return conn;
}

handle_t agora_rtc_conn_get_local_user(handle_t conn) {
    stub_note("agora_rtc_conn_get_local_user");
    if (get_int("local_user_null", 0)) return NULL;
    return &((conn_t *)conn)->user;
}

handle_t agora_rtc_conn_get_agora_parameter(handle_t conn) {
    (void)conn;
    return &g_parameter_token;
}

int agora_rtc_conn_create_data_stream(handle_t conn, int *stream_id, int reliable, int ordered) {
    (void)conn;
    stub_note("agora_rtc_conn_create_data_stream");
    if (reliable != ordered) return -4; /* ERR_NOT_SUPPORTED for mixed combinations */
    int code = (int)get_int("stream_code", 0);
    if (code < 0) return code;
    *stream_id = 1;
    return 0;
}

int agora_rtc_conn_register_observer(handle_t conn, void *observer) {
    stub_note("agora_rtc_conn_register_observer");
    pthread_mutex_lock(&g_lock);
    ((conn_t *)conn)->observer = observer;
    pthread_mutex_unlock(&g_lock);
    return (int)get_int("register_code", 0);
}

int agora_rtc_conn_unregister_observer(handle_t conn) {
    stub_note("agora_rtc_conn_unregister_observer");
    pthread_mutex_lock(&g_lock);
    ((conn_t *)conn)->observer = NULL;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

int agora_local_user_register_observer(handle_t user, void *observer) {
    stub_note("agora_local_user_register_observer");
    pthread_mutex_lock(&g_lock);
    ((user_t *)user)->conn->user_observer = observer;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

int agora_local_user_unregister_observer(handle_t user) {
    stub_note("agora_local_user_unregister_observer");
    pthread_mutex_lock(&g_lock);
    ((user_t *)user)->conn->user_observer = NULL;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

int agora_rtc_conn_connect(handle_t handle, const char *token, const char *channel, const char *uid) {
    (void)token;
    stub_note("agora_rtc_conn_connect");
    conn_t *conn = handle;
    int code = (int)get_int("connect_code", 0);
    if (code != 0) return code;
    pthread_mutex_lock(&g_lock);
    snprintf(conn->channel, sizeof conn->channel, "%s", channel ? channel : "");
    snprintf(conn->uid, sizeof conn->uid, "%s", uid ? uid : "");
    pthread_mutex_unlock(&g_lock);
    job_t *job = calloc(1, sizeof *job);
    job->kind = JOB_CONNECT;
    job->conn = conn;
    start(job);
    return 0;
}

int agora_rtc_conn_disconnect(handle_t handle) {
    stub_note("agora_rtc_conn_disconnect");
    job_t *job = calloc(1, sizeof *job);
    job->kind = JOB_DISCONNECTED;
    job->conn = handle;
    start(job);
    return 0;
}

void agora_rtc_conn_destroy(handle_t handle) {
    stub_note("agora_rtc_conn_destroy");
    stub_wait_idle(); /* callbacks in flight finish before the connection memory goes */
    pthread_mutex_lock(&g_lock);
    if (g_last_conn == handle) g_last_conn = NULL;
    pthread_mutex_unlock(&g_lock);
    free(handle);
}

int agora_rtc_conn_renew_token(handle_t conn, const char *token) {
    (void)conn;
    (void)token;
    stub_note("agora_rtc_conn_renew_token");
    wait_gate("renew_block", "renew_blocked");
    return (int)get_int("renew_code", 0);
}

int agora_rtc_conn_send_stream_message(handle_t conn, int stream_id, const char *data, uint32_t length) {
    stub_note("agora_rtc_conn_send_stream_message");
    if (conn == NULL || stream_id < 0) {
        stub_note("send_on_released_connection"); /* what the SDK's release() leaves: NULL handle, stream -1 */
        return -2;
    }
    wait_gate("send_block", "send_blocked");
    int code = 0;
    pthread_mutex_lock(&g_lock);
    if (g_nsend_codes > 0) {
        code = g_send_codes[0];
        memmove(g_send_codes, g_send_codes + 1, (size_t)(--g_nsend_codes) * sizeof g_send_codes[0]);
    }
    if (code == 0 && g_sent_len + length + 4 < sizeof g_sent) {
        /* records are a 4-byte length then the bytes */
        memcpy(g_sent + g_sent_len, &length, 4);
        memcpy(g_sent + g_sent_len + 4, data, length);
        g_sent_len += 4 + length;
        g_nsent++;
    }
    pthread_mutex_unlock(&g_lock);
    return code;
}
