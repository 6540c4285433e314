/* blocks: power-of-two block layout of a dimension. See blocks.h. */
#include "codec/blocks.h"

#include "base/banned.h"

void
blocks_split(struct blocks *b, size_t d, size_t min_block)
{
    b->n = 0;
    size_t off = 0;
    for (int k = 63; k >= 0; k--) {
        size_t blk = (size_t)1 << k;
        if (blk < min_block)
            break;
        if ((d & blk) != 0) {
            b->off[b->n] = off;
            b->len[b->n] = blk;
            b->n++;
            off += blk;
        }
    }
    if (off < d) {
        b->off[b->n] = off;
        b->len[b->n] = d - off;
        b->n++;
    }
}

void
blocks_whole(struct blocks *b, size_t d)
{
    b->n = 1;
    b->off[0] = 0;
    b->len[0] = d;
}
