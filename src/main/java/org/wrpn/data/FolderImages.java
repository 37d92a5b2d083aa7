package org.wrpn.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.BadInputException;
import org.wrpn.data.decode.BadImageException;
import org.wrpn.data.decode.ImageDecoder;
import org.wrpn.data.decode.ImageHeader;
import org.wrpn.data.decode.Region;

/**
 * Image files of one split of an image folder ({@link ImageFolder}), decoded as they are read into
 * size x size RGB: a random resized crop and flip in training, the centre crop in evaluation
 * ({@link CropPolicy}), JPEGs decoded at reduced DCT scale where the crop allows. A file that
 * cannot be read or decoded is named once in a warning, counted in {@link #skipped()}, and the
 * next good file of the set takes its place (the same one every epoch, whatever the thread count).
 */
public final class FolderImages implements ImageSet {
    /** Images the normalization is fitted on, evenly spaced over the set. */
    static final int FIT_SAMPLES = 256;
    /** Bad files in a row after which the data is refused rather than skipped. */
    static final int MAX_REPLACEMENTS = 16;
    private static final long MAX_FILE_BYTES = 1L << 30;
    private static final Logger LOG = LogManager.getLogger(FolderImages.class);

    private final Path root;
    private final String[] files;
    private final int[] labels;
    private final List<String> classNames;
    private final int size;
    private final int threads;
    private final CropPolicy crops;
    private final Set<Integer> bad = ConcurrentHashMap.newKeySet();

    /** files: relative to root, labels: indices into classNames; images come out size x size. */
    FolderImages(Path root, String[] files, int[] labels, List<String> classNames, int size, int threads, CropPolicy crops) {
        if (files.length != labels.length) throw new IllegalArgumentException(files.length + " files, " + labels.length + " labels");
        if (size <= 0 || threads <= 0) throw new IllegalArgumentException("size " + size + ", threads " + threads);
        this.root = root;
        this.files = files;
        this.labels = labels;
        this.classNames = List.copyOf(classNames);
        this.size = size;
        this.threads = threads;
        this.crops = crops;
    }

    @Override
    public int count() {
        return files.length;
    }

    @Override
    public int height() {
        return size;
    }

    @Override
    public int width() {
        return size;
    }

    @Override
    public int channels() {
        return 3;
    }

    @Override
    public int classes() {
        return classNames.size();
    }

    @Override
    public int label(int sample) {
        return labels[sample];
    }

    @Override
    public List<String> classNames() {
        return classNames;
    }

    @Override
    public int loaderThreads() {
        return threads;
    }

    @Override
    public long skipped() {
        return bad.size();
    }

    /** The file of a sample. */
    public Path file(int sample) {
        return root.resolve(files[sample]);
    }

    @Override
    public FolderImages first(int n) {
        return n < files.length ? pick(java.util.stream.IntStream.range(0, n).toArray()) : this;
    }

    private FolderImages pick(int[] samples) {
        String[] f = new String[samples.length];
        int[] l = new int[samples.length];
        for (int i = 0; i < samples.length; i++) {
            f[i] = files[samples[i]];
            l[i] = labels[samples[i]];
        }
        return new FolderImages(root, f, l, classNames, size, threads, crops);
    }

    /** Fitted on {@value #FIT_SAMPLES} images evenly spaced over the set, through the evaluation transform. */
    @Override
    public Normalization fitNormalization() {
        int n = Math.min(FIT_SAMPLES, files.length);
        int[] picks = new int[n];
        for (int i = 0; i < n; i++) picks[i] = (int) ((long) i * files.length / n);
        float[] zero = new float[3];
        float[] unit = new float[3];
        Arrays.fill(unit, 1 / 255f);
        long[] sum = new long[3];
        long[] squares = new long[3];
        try (BatchLoader loader = new BatchLoader(pick(picks).samples(new Normalization(zero, unit), false), 32, false, 0, 0,
                false, threads)) {
            while (loader.hasNext()) {
                float[] x = loader.next().images();
                for (int i = 0; i < x.length; i++) {
                    long v = Math.round(x[i]); // the byte value: (v / 255 - 0) / (1 / 255)
                    sum[i % 3] += v;
                    squares[i % 3] += v * v;
                }
            }
        }
        return Normalization.fromSums(sum, squares, (double) n * size * size, "a sample of " + root);
    }

    @Override
    public Samples samples(Normalization norm, boolean training) {
        if (norm.channels() != 3) {
            throw new BadInputException("normalization has " + norm.channels() + " channels but the images of " + root + " have 3");
        }
        float[] lut = norm.lookupTable();
        return new Samples() {
            @Override
            public int count() {
                return files.length;
            }

            @Override
            public int imageSize() {
                return size * size * 3;
            }

            @Override
            public Renderer open() {
                return new FileRenderer(lut, training);
            }

            @Override
            public String describe(int sample) {
                return file(sample).toString();
            }
        };
    }

    @Override
    public String toString() {
        return "images[" + files.length + " files in " + root + ", " + classNames.size() + " classes, " + size + "x" + size + "x3]";
    }

    /** Reads, decodes and transforms files on one thread, with its own decoder and buffers. */
    private final class FileRenderer implements Samples.Renderer {
        private final ImageDecoder decoder = ImageDecoder.open();
        private final byte[] bgr = new byte[size * size * 3];
        private final float[] lut;
        private final boolean training;

        FileRenderer(float[] lut, boolean training) {
            this.lut = lut;
            this.training = training;
        }

        @Override
        public int render(int sample, long seed, int epoch, long position, float[] dst, int off) {
            for (int k = 0; k <= MAX_REPLACEMENTS; k++) {
                int s = (int) ((sample + (long) k) % files.length);
                if (bad.contains(s)) continue;
                // A fresh stream per try: a replacement looks the same whether or not the bad file was known.
                SplittableRandom rng = Seeds.random(seed, Seeds.AUGMENT, epoch, position);
                try {
                    boolean flip = load(s, rng);
                    write(flip, dst, off);
                    return labels[s];
                } catch (BadImageException e) {
                    if (bad.add(s)) {
                        LOG.warn("skipped {}: {}; the next image of the set takes its place ({} skipped so far)", file(s),
                                e.getMessage(), bad.size());
                    }
                }
            }
            throw new BadInputException(file(sample) + " and the " + MAX_REPLACEMENTS
                    + " images after it cannot be read or decoded (see the warnings above); check the data");
        }

        /** Decodes sample s into bgr; returns whether to flip it. */
        private boolean load(int s, SplittableRandom rng) throws BadImageException {
            ByteBuffer buf;
            try (FileChannel ch = FileChannel.open(file(s))) {
                long bytes = ch.size();
                if (bytes > MAX_FILE_BYTES) throw new BadImageException("too large (" + bytes + " bytes)");
                buf = decoder.buffer((int) bytes);
                while (buf.position() < bytes && ch.read(buf) > 0) {
                    // a read may return less than asked
                }
            } catch (AccessDeniedException e) {
                throw new BadImageException("cannot be read (permission denied)");
            } catch (NoSuchFileException e) {
                throw new BadImageException("cannot be read (it no longer exists)");
            } catch (IOException e) {
                throw new BadImageException("cannot be read (" + DataFile.oneLine(e.getMessage()) + ")");
            }
            int length = buf.position();
            ImageHeader h = ImageHeader.read(buf, length);
            Region crop = training ? crops.random(h.width(), h.height(), rng) : crops.centre(h.width(), h.height());
            decoder.decode(h, length, CropPolicy.reduction(h, crop, size), crop, size, size, bgr);
            return training && rng.nextBoolean();
        }

        /** bgr to normalized RGB floats, mirrored when flipped. */
        private void write(boolean flip, float[] dst, int off) {
            for (int y = 0; y < size; y++) {
                int row = y * size;
                for (int x = 0; x < size; x++) {
                    int in = (row + (flip ? size - 1 - x : x)) * 3;
                    int out = off + (row + x) * 3;
                    dst[out] = lut[bgr[in + 2] & 0xFF];
                    dst[out + 1] = lut[256 + (bgr[in + 1] & 0xFF)];
                    dst[out + 2] = lut[512 + (bgr[in] & 0xFF)];
                }
            }
        }

        @Override
        public void close() {
            decoder.close();
        }
    }
}
