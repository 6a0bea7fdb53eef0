// scripts/models/isnet-mask.cc: the hand check of a converted ISNet with OpenCV's DNN module (the same
// library the WASI-NN host uses): loads the model, runs one photo at SIZE×SIZE, writes the mask as a PNG
// (at the photo's size) and prints the time and the process's resident memory after load and inference.
//
//   g++ -O2 -std=c++17 -I/usr/include/opencv4 scripts/models/isnet-mask.cc -o /tmp/isnet-mask \
//       -lopencv_dnn -lopencv_imgcodecs -lopencv_imgproc -lopencv_core
//   /tmp/isnet-mask "$(wasmq models path isnet)" build/photos/messi5.jpg 512 /tmp/mask.png
//
// Preprocessing as the pipeline does it: RGB, resized to SIZE×SIZE, (x - 128) / 256, NCHW float32.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

static long ResidentKiB() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: isnet-mask MODEL.onnx PHOTO SIZE OUT.png\n");
    return 2;
  }
  const int size = std::atoi(argv[3]);
  const long before = ResidentKiB();
  const auto t0 = std::chrono::steady_clock::now();
  cv::dnn::Net net = cv::dnn::readNetFromONNX(argv[1]);
  const auto t1 = std::chrono::steady_clock::now();
  const long loaded = ResidentKiB();
  cv::Mat photo = cv::imread(argv[2]);
  if (photo.empty()) {
    std::fprintf(stderr, "isnet-mask: cannot read %s\n", argv[2]);
    return 1;
  }
  net.setInput(cv::dnn::blobFromImage(photo, 1.0 / 256, cv::Size(size, size), cv::Scalar(128, 128, 128), true, false),
               "input");
  cv::Mat out = net.forward("output");
  const auto t2 = std::chrono::steady_clock::now();
  cv::Mat mask(out.size[2], out.size[3], CV_32F, out.ptr<float>()), mask8;
  mask.convertTo(mask8, CV_8U, 255.0);
  cv::resize(mask8, mask8, photo.size());
  cv::imwrite(argv[4], mask8);
  std::printf("output [1,1,%d,%d] mean %.3f; load %.2f s, inference %.2f s; resident %ld KiB before, %ld after "
              "load, %ld after inference\n",
              out.size[2], out.size[3], cv::mean(mask)[0], std::chrono::duration<double>(t1 - t0).count(),
              std::chrono::duration<double>(t2 - t1).count(), before, loaded, ResidentKiB());
  return 0;
}
