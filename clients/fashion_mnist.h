/*
 * fashion_mnist: the Fashion-MNIST training and test sets (Xiao, Rasul and Vollgraf, 2017).
 *
 * Reads the four gzip IDX files Debian's package dataset-fashion-mnist installs under
 * FASHION_MNIST_DEFAULT_DIR (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
 * t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), or from another folder with the
 * same file names. Pixels become floats in [0, 1] (p / 255); labels are 0..9. The files
 * are validated by clients/idx.h and must hold 28 x 28 images and labels below 10; the
 * sample counts are whatever the files hold (60000 and 10000 in the release).
 *
 * Ownership: the two splits are filled with buffers the caller then owns (mem_free). No
 * state is kept between calls. Loading the release takes about 0.4 s on one core of the
 * development machine, most of it inflating the 26 MB of gzip.
 */
#ifndef FEDBITS_CLIENTS_FASHION_MNIST_H
#define FEDBITS_CLIENTS_FASHION_MNIST_H

#include <stddef.h>

#include "base/errbuf.h"
#include "clients/dataset.h"

#define FASHION_MNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define FASHION_MNIST_PACKAGE     "dataset-fashion-mnist"
#define FASHION_MNIST_FEATURES    784
#define FASHION_MNIST_CLASSES     10
/* A row is one grey 28 x 28 image, row-major: channels, height, width. */
#define FASHION_MNIST_CHANNELS 1
#define FASHION_MNIST_HEIGHT   28
#define FASHION_MNIST_WIDTH    28

/*
 * Loads both splits from dir (NULL or "" for FASHION_MNIST_DEFAULT_DIR). -ERR_NOTFOUND
 * naming the missing file and the Debian package to install; the errors of
 * idx_read_split(); -ERR_CORRUPT for a wrong image shape or a label above 9.
 */
int fashion_mnist_load(struct dataset_split *train, struct dataset_split *test, const char *dir,
                       struct errbuf *eb) __attribute__((warn_unused_result));

#endif
