/* fashion_mnist: the Debian-packaged Fashion-MNIST files. See fashion_mnist.h. */
#include "clients/fashion_mnist.h"

#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "clients/idx.h"
#include "base/banned.h"

/* The whole release is 47 MB of pixels; a cap well above it bounds a forged header. */
#define FASHION_MNIST_MAX_BYTES ((size_t)256 << 20)

static int
fashion_mnist_split(struct dataset_split *out, const char *dir, const char *stem, struct errbuf *eb)
{
    char images[1100], labels[1100];
    int a = snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, stem);
    int b = snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, stem);
    if (a < 0 || (size_t)a >= sizeof images || b < 0 || (size_t)b >= sizeof labels)
        return errbuf_set(eb, -ERR_INVALID, "fashion-mnist folder name '%s' is too long", dir);
    size_t nf = 0;
    unsigned top = 0;
    int rc = idx_read_split(out, &nf, &top, images, labels, FASHION_MNIST_CLASSES,
                            FASHION_MNIST_MAX_BYTES, eb);
    if (rc == -ERR_NOTFOUND) {
        return errbuf_set(eb, rc,
                          "fashion-mnist file '%s' not found: install the Debian package "
                          "%s (apt-get install %s) or set data.path to a folder with the "
                          "four IDX files",
                          eb != NULL && eb->file[0] != '\0' ? eb->file : images,
                          FASHION_MNIST_PACKAGE, FASHION_MNIST_PACKAGE);
    }
    if (rc < 0)
        return errbuf_prefix(eb, "fashion-mnist");
    if (nf != FASHION_MNIST_FEATURES || top >= FASHION_MNIST_CLASSES) {
        mem_free(out->x);
        mem_free(out->y);
        memset(out, 0, sizeof *out);
        errbuf_set_location(eb, nf != FASHION_MNIST_FEATURES ? images : labels, 0, 0);
        return errbuf_set(eb, -ERR_CORRUPT,
                          "fashion-mnist '%s': expected 28x28 images and labels 0..9, found %zu "
                          "features and label %u",
                          stem, nf, top);
    }
    return 0;
}

int
fashion_mnist_load(struct dataset_split *train, struct dataset_split *test, const char *dir,
                   struct errbuf *eb)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (dir == NULL || dir[0] == '\0')
        dir = FASHION_MNIST_DEFAULT_DIR;
    int rc = fashion_mnist_split(train, dir, "train", eb);
    if (rc < 0)
        return rc;
    rc = fashion_mnist_split(test, dir, "t10k", eb);
    if (rc < 0) {
        mem_free(train->x);
        mem_free(train->y);
        memset(train, 0, sizeof *train);
        return rc;
    }
    return 0;
}
