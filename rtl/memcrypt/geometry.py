"""The line and word geometry every part of memcrypt shares: gateware, models and benches.

memcrypt moves memory in **lines** of 64 bytes, the cache line of the x86 and Arm server
CPUs whose memory encryption it follows. A line is the AES-XTS data unit (IEEE 1619-2007
§5.1): its tweak is the line's stripped physical address. Inside the controller a line
travels as **words** of 128 bits, one AES block each, so a line is four words and four
blocks; byte k of a word is memory byte ``address + k`` (bits ``[8k+7:8k]``).
"""

__all__ = ["LINE_BYTES", "LINE_BITS", "LINE_OFFSET_BITS", "BLOCK_BYTES", "BLOCK_BITS",
           "WORD_BYTES", "WORD_BITS", "WORDS_PER_LINE", "BLOCKS_PER_LINE", "WORD_OFFSET_BITS"]

LINE_BYTES = 64
LINE_BITS = 8 * LINE_BYTES
LINE_OFFSET_BITS = LINE_BYTES.bit_length() - 1          # byte offset within a line: 6

BLOCK_BYTES = 16                                        # one AES block (FIPS-197)
BLOCK_BITS = 8 * BLOCK_BYTES
BLOCKS_PER_LINE = LINE_BYTES // BLOCK_BYTES

WORD_BYTES = BLOCK_BYTES                                # the data path's word is one block
WORD_BITS = 8 * WORD_BYTES
WORD_OFFSET_BITS = WORD_BYTES.bit_length() - 1          # byte offset within a word: 4
WORDS_PER_LINE = LINE_BYTES // WORD_BYTES
