// SentencePiece tokenizer.model through Debian's libsentencepiece: a thin
// extern "C" shim (the library is C++); everything else is in tok_spm.c.
#include "src/tok_spm_model.h"

#include <sentencepiece_processor.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct tok_spm_model {
    sentencepiece::SentencePieceProcessor sp;
};

static void put_err(char *err, size_t errlen, const std::string &msg)
{
    if (err && errlen)
        std::snprintf(err, errlen, "%s", msg.c_str());
}

extern "C" struct tok_spm_model *tok_spmm_open(const char *path, char *err, size_t errlen)
{
    try {
        tok_spm_model *m = new tok_spm_model;
        auto st = m->sp.Load(path);
        if (!st.ok()) {
            put_err(err, errlen, st.ToString());
            delete m;
            return nullptr;
        }
        return m;
    } catch (const std::exception &x) {
        put_err(err, errlen, x.what());
        return nullptr;
    }
}

extern "C" void tok_spm_model_free(struct tok_spm_model *m)
{
    delete m;
}

extern "C" int tok_spmm_size(const struct tok_spm_model *m)
{
    return m->sp.GetPieceSize();
}

extern "C" const char *tok_spmm_piece(const struct tok_spm_model *m, int id, size_t *len)
{
    const std::string &p = m->sp.IdToPiece(id);
    *len = p.size();
    return p.data();
}

extern "C" int tok_spmm_flags(const struct tok_spm_model *m, int id)
{
    return (m->sp.IsControl(id) ? TOK_SPMM_CONTROL : 0) | (m->sp.IsByte(id) ? TOK_SPMM_BYTE : 0) |
           (m->sp.IsUnknown(id) ? TOK_SPMM_UNKNOWN : 0) | (m->sp.IsUnused(id) ? TOK_SPMM_UNUSED : 0);
}

extern "C" int tok_spmm_bos(const struct tok_spm_model *m)
{
    return m->sp.bos_id();
}

extern "C" int tok_spmm_eos(const struct tok_spm_model *m)
{
    return m->sp.eos_id();
}

extern "C" long tok_spmm_encode(const struct tok_spm_model *m, const char *text, size_t len,
                                int **out, char *err, size_t errlen)
{
    *out = nullptr;
    try {
        std::vector<int> ids;
        auto st = m->sp.Encode(absl::string_view(text, len), &ids);
        if (!st.ok()) {
            put_err(err, errlen, st.ToString());
            return -2;
        }
        int *o = static_cast<int *>(std::malloc((ids.size() + 1) * sizeof(int)));
        if (!o)
            return -1;
        if (!ids.empty())
            std::memcpy(o, ids.data(), ids.size() * sizeof(int));
        *out = o;
        return static_cast<long>(ids.size());
    } catch (const std::bad_alloc &) {
        return -1;
    } catch (const std::exception &x) {
        put_err(err, errlen, x.what());
        return -2;
    }
}

extern "C" long tok_spmm_decode(const struct tok_spm_model *m, const int *ids, long n, char **out,
                                char *err, size_t errlen)
{
    *out = nullptr;
    try {
        std::vector<int> v(ids, ids + n);
        std::string s;
        auto st = m->sp.Decode(v, &s);
        if (!st.ok()) {
            put_err(err, errlen, st.ToString());
            return -2;
        }
        char *o = static_cast<char *>(std::malloc(s.size() + 1));
        if (!o)
            return -1;
        std::memcpy(o, s.data(), s.size());
        o[s.size()] = '\0';
        *out = o;
        return static_cast<long>(s.size());
    } catch (const std::bad_alloc &) {
        return -1;
    } catch (const std::exception &x) {
        put_err(err, errlen, x.what());
        return -2;
    }
}
